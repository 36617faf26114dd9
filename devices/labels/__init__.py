"""Shelf labels: what a tag says, how a template lays it out, and how each printer gets it.

The path of one tag, from the store's data to the paper:

    TagData (tag.py)            what the tag says: name, grade, price, unit price, barcode, …
      + Template (template.py)  a data file: the tag's size, its boxes, fonts, barcode place
      -> TagLayout (layout.py)  the tag in millimetres, every text already wrapped to its box
      -> raster (raster.py)     dots for a label printer: bitmaps, barcodes, boxes
           -> ZPL II (zpl.py) or TSPL (tspl.py) bytes, through LabelLanguage (language.py)
      -> pdf.py                 an A4 sheet of tags for an office printer

Text is wrapped once, in ``layout``; the raster and the PDF draw the same lines.
"""
