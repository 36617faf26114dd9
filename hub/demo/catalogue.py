"""The demo store's catalogue: what ``storehub demo`` seeds.

A neighbourhood grocery in Moscow.  Its range comes from a table of product families
(milk, buckwheat, sausages…), each crossed with its brands and its variants (fat,
flavour, size), so a few hundred products read like a real shop's shelves.  Beside
the catalogue the cloud sends, as it would for a real store: one price per product,
eight loyalty cards, four click-and-collect orders (one already overdue), and what two
sister stores hold of some products.  ``demo_stock`` is the opening delivery; a few
products are left out of it, so the kiosk's endless aisle has something to offer.

Everything is drawn from a seeded ``random.Random``: the same call gives the same
store, and only the timestamps follow ``now``.  Packaged goods carry a GTIN-13 with a
Russian GS1 prefix (460–469); loose goods, weighed or poured at the counter, have none
(the till takes them from the scale).  Money is in kopecks.
"""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal
from typing import NamedTuple

from stdnum import ean

from hub.store.schemas import (
    InboundBatch,
    LoyaltySnapshotIn,
    Measure,
    PickupIn,
    PickupLine,
    PriceIn,
    ProductIn,
    StockElsewhereIn,
    UnitPriceBasis,
    aware,
)

SEED = 460
HOUR = 3600
DAY = 24 * HOUR

#: The fiscal register's tax groups: VAT 20% on most goods, 10% on basic food
#: (milk, bread, grains, meat, fish, vegetables, fruit, baby food).
VAT_20 = 1
VAT_10 = 2

#: A brand and how dear it is against the family's usual price.
Brand = tuple[str, float]
#: A variant: its label, net content (kg or litres, None when sold by the piece) and usual price in roubles.
Variant = tuple[str, str | None, int]

NO_BRAND: tuple[Brand, ...] = (("", 1.0),)


class Family(NamedTuple):
    """One kind of product: every brand in every variant is a product."""

    prefix: str  # the article number's prefix: MLK-001
    aisle: str
    noun: str
    brands: tuple[Brand, ...]
    variants: tuple[Variant, ...]
    basis: UnitPriceBasis | None = None  # the shelf label's unit price, for packaged goods
    measure: Measure = "piece"  # "kg" or "l": sold loose, the price is per kg or per litre
    tax_group: int | None = None  # when it differs from its section's


class Section(NamedTuple):
    category: str
    tax_group: int
    families: tuple[Family, ...]


# Brands shared by several families.
PROSTOKVASHINO = ("Простоквашино", 1.10)
DOMIK = ("Домик в деревне", 1.05)
UVELKA = ("Увелка", 1.0)
MISTRAL = ("Мистраль", 1.15)
CHICKEN = (("Петелинка", 1.0), ("Приосколье", 0.95))
CANNED_VEG = (("Бондюэль", 1.2), ("Глобус", 1.0))
FROZEN_VEG = (("4 Сезона", 1.0), ("Морозко", 0.95))

SECTIONS: tuple[Section, ...] = (
    Section("Молочные продукты", VAT_10, (
        Family("MLK", "A1", "Молоко", (PROSTOKVASHINO, DOMIK, ("Весёлый молочник", 1.0)),
               (("2,5% 0,9 л", "0.9", 79), ("3,2% 0,9 л", "0.9", 89), ("3,2% 1,4 л", "1.4", 129)), "l"),
        Family("MLK", "A1", "Молоко фермерское разливное", NO_BRAND, (("", None, 119),), measure="l"),
        Family("MLK", "A1", "Кефир", (PROSTOKVASHINO, DOMIK),
               (("1% 0,9 л", "0.9", 79), ("2,5% 0,9 л", "0.9", 85)), "l"),
        Family("MLK", "A1", "Ряженка", (PROSTOKVASHINO, DOMIK), (("4% 0,5 л", "0.5", 69),), "l"),
        Family("MLK", "A1", "Сливки", (PROSTOKVASHINO, DOMIK),
               (("10% 0,35 л", "0.35", 119), ("20% 0,2 л", "0.2", 109)), "l"),
        Family("MLK", "A2", "Сметана", (PROSTOKVASHINO, DOMIK),
               (("15% 300 г", "0.3", 89), ("20% 300 г", "0.3", 99)), "kg"),
        Family("MLK", "A2", "Творог", (PROSTOKVASHINO, ("Савушкин", 0.95)),
               (("5% 200 г", "0.2", 99), ("9% 200 г", "0.2", 109)), "kg"),
        Family("MLK", "A2", "Йогурт питьевой", (("Чудо", 1.0), ("Активиа", 1.05)),
               (("клубника 2,4% 270 г", "0.27", 79), ("черника 2,4% 270 г", "0.27", 79)), "kg"),
        Family("MLK", "A2", "Сырок глазированный", (("Б.Ю. Александров", 1.2), ("Ростагроэкспорт", 0.9)),
               (("ванильный 45 г", "0.045", 49), ("с варёной сгущёнкой 45 г", "0.045", 52)), "100g"),
        Family("MLK", "A3", "Масло сливочное", (PROSTOKVASHINO, ("Экомилк", 1.0), ("Брест-Литовск", 1.05)),
               (("72,5% 180 г", "0.18", 169), ("82,5% 180 г", "0.18", 219)), "kg"),
        Family("EGG", "A3", "Яйцо куриное", (("Роскар", 1.0), ("Окское", 1.05)),
               (("С1 10 шт", None, 119), ("С0 10 шт", None, 139), ("С1 20 шт", None, 229))),
    )),
    Section("Сыры", VAT_10, (
        Family("CHS", "A4", "Сыр", (("Брест-Литовск", 1.0), ("Сыробогатов", 0.95)),
               (("Голландский 45% 200 г", "0.2", 199), ("Российский 50% 200 г", "0.2", 189),
                ("Маасдам 45% 200 г", "0.2", 239)), "kg"),
        Family("CHS", "A4", "Сыр", (("Умалат", 1.0),),
               (("Моцарелла 45% 125 г", "0.125", 139), ("Рикотта 40% 250 г", "0.25", 219),
                ("Сулугуни 45% 300 г", "0.3", 299)), "kg"),
        Family("CHS", "A4", "Сыр плавленый", (("Карат", 1.0),),
               (("Дружба 90 г", "0.09", 49), ("сливочный 90 г", "0.09", 49), ("с грибами 90 г", "0.09", 52)), "kg"),
        Family("CHS", "A5", "Сыр", NO_BRAND,
               (("Российский 50%", None, 799), ("Гауда 45%", None, 899), ("Пошехонский 45%", None, 749),
                ("Маасдам 45%", None, 1099)), measure="kg"),
    )),
    Section("Хлеб и выпечка", VAT_10, (
        Family("BRD", "B1", "Хлеб", (("Коломенский", 1.0), ("Черёмушки", 1.0)),
               (("Бородинский 400 г", "0.4", 54), ("Дарницкий 700 г", "0.7", 59), ("зерновой 300 г", "0.3", 69)), "kg"),
        Family("BRD", "B1", "Батон", (("Коломенский", 1.0), ("Черёмушки", 0.95)),
               (("Нарезной 400 г", "0.4", 49), ("Подмосковный 400 г", "0.4", 52)), "kg"),
        Family("BRD", "B1", "Багет", NO_BRAND,
               (("французский 250 г", "0.25", 69), ("с чесноком 250 г", "0.25", 79)), "kg"),
        Family("BRD", "B1", "Лаваш армянский", NO_BRAND, (("тонкий 200 г", "0.2", 49),), "kg"),
        Family("BRD", "B2", "Сушки", NO_BRAND, (("с маком 200 г", "0.2", 59), ("ванильные 200 г", "0.2", 59)), "kg"),
        Family("BRD", "B2", "Булочка", NO_BRAND, (("с маком 100 г", "0.1", 39), ("с корицей 100 г", "0.1", 45)), "kg"),
    )),
    Section("Бакалея", VAT_10, (
        Family("GRC", "B3", "Крупа гречневая", (UVELKA, MISTRAL),
               (("ядрица 900 г", "0.9", 109), ("в пакетиках 5×80 г", "0.4", 89)), "kg"),
        Family("GRC", "B3", "Рис", (MISTRAL, UVELKA),
               (("круглозёрный 900 г", "0.9", 99), ("длиннозёрный 900 г", "0.9", 119),
                ("басмати 500 г", "0.5", 179)), "kg"),
        Family("GRC", "B3", "Хлопья овсяные", (("Ясно солнышко", 1.0), UVELKA),
               (("500 г", "0.5", 69), ("быстрого приготовления 400 г", "0.4", 75)), "kg"),
        Family("GRC", "B3", "Пшено шлифованное", (UVELKA, MISTRAL), (("800 г", "0.8", 69),), "kg"),
        Family("GRC", "B3", "Горох колотый", (UVELKA, MISTRAL), (("800 г", "0.8", 59),), "kg"),
        Family("PST", "B4", "Макароны", (("Макфа", 1.0), ("Шебекинские", 1.05)),
               (("спагетти 450 г", "0.45", 79), ("перья 450 г", "0.45", 79), ("рожки 450 г", "0.45", 75)), "kg"),
        Family("GRC", "B4", "Мука пшеничная", (("Макфа", 1.0), ("Алейка", 0.9)),
               (("высший сорт 1 кг", "1", 69), ("высший сорт 2 кг", "2", 119)), "kg"),
        Family("GRC", "B4", "Сахар", (("Продимекс", 1.0), ("Чайкофский", 1.1)),
               (("песок 1 кг", "1", 89), ("рафинад 500 г", "0.5", 79)), "kg"),
        Family("GRC", "B4", "Соль", NO_BRAND,
               (("поваренная Экстра 1 кг", "1", 29), ("йодированная 1 кг", "1", 35),
                ("морская мелкая 500 г", "0.5", 79)), "kg"),
        Family("OIL", "B5", "Масло подсолнечное", (("Олейна", 1.0), ("Золотая семечка", 1.0), ("Слобода", 1.1)),
               (("рафинированное 1 л", "1", 149), ("нерафинированное 1 л", "1", 159)), "l"),
        Family("OIL", "B5", "Масло оливковое", (("Borges", 1.0),),
               (("Extra Virgin 0,5 л", "0.5", 899), ("рафинированное 0,5 л", "0.5", 699)), "l"),
        Family("SAU", "B5", "Кетчуп", (("Heinz", 1.25), ("Махеев", 1.0)),
               (("томатный 350 г", "0.35", 119), ("шашлычный 500 г", "0.5", 139)), "kg", tax_group=VAT_20),
        Family("SAU", "B5", "Майонез", (("Махеев", 1.0), ("Слобода", 1.05)),
               (("Провансаль 67% 380 г", "0.38", 109), ("лёгкий 50,5% 380 г", "0.38", 99)), "kg", tax_group=VAT_20),
        Family("SPC", "B5", "Перец чёрный молотый", (("Камис", 1.0), ("Котани", 1.3)), (("20 г", "0.02", 59),),
               "100g", tax_group=VAT_20),
        Family("SPC", "B5", "Лавровый лист", (("Камис", 1.0),), (("10 г", "0.01", 45),), "100g", tax_group=VAT_20),
    )),
    Section("Консервы", VAT_10, (
        Family("CAN", "B6", "Горошек зелёный", CANNED_VEG, (("400 г", "0.4", 119),), "kg"),
        Family("CAN", "B6", "Кукуруза сладкая", CANNED_VEG, (("340 г", "0.34", 129),), "kg"),
        Family("CAN", "B6", "Фасоль красная", CANNED_VEG, (("400 г", "0.4", 119),), "kg"),
        Family("CAN", "B6", "Говядина тушёная", (("Главпродукт", 1.0), ("Совок", 0.9)),
               (("338 г", "0.338", 269),), "kg"),
        Family("CAN", "B6", "Шпроты в масле", (("Рижское золото", 1.0),), (("160 г", "0.16", 189),), "kg"),
        Family("CAN", "B6", "Сайра натуральная", (("Доброфлот", 1.0),), (("245 г", "0.245", 179),), "kg"),
    )),
    Section("Овощи и фрукты", VAT_10, (
        Family("VEG", "C1", "", NO_BRAND,
               (("Картофель мытый", None, 69), ("Картофель молодой", None, 89), ("Морковь", None, 49),
                ("Лук репчатый", None, 39), ("Свёкла", None, 45), ("Капуста белокочанная", None, 35),
                ("Огурцы гладкие", None, 169), ("Огурцы короткоплодные", None, 229), ("Томаты розовые", None, 329),
                ("Томаты сливовидные", None, 249), ("Перец сладкий красный", None, 349), ("Кабачки", None, 129),
                ("Чеснок", None, 399), ("Имбирь", None, 449)), measure="kg"),
        Family("VEG", "C2", "", NO_BRAND,
               (("Томаты черри 250 г", "0.25", 179), ("Шампиньоны 400 г", "0.4", 169), ("Салат Айсберг", None, 149),
                ("Укроп 50 г", "0.05", 59), ("Петрушка 50 г", "0.05", 59), ("Лук зелёный 50 г", "0.05", 59)), "kg"),
        Family("FRT", "C3", "Яблоки", NO_BRAND,
               (("Гала", None, 159), ("Голден", None, 149), ("Гренни Смит", None, 179), ("Симиренко", None, 139)),
               measure="kg"),
        Family("FRT", "C4", "", NO_BRAND,
               (("Груши Конференция", None, 229), ("Бананы", None, 129), ("Апельсины", None, 149),
                ("Мандарины", None, 189), ("Лимоны", None, 199), ("Киви", None, 249),
                ("Виноград зелёный без косточек", None, 349), ("Хурма", None, 279)), measure="kg"),
    )),
    Section("Мясо и птица", VAT_10, (
        Family("MEA", "D1", "Фарш", (("Мираторг", 1.0),),
               (("говяжий 400 г", "0.4", 299), ("домашний 400 г", "0.4", 259)), "kg"),
        Family("MEA", "D1", "Филе куриное охлаждённое", CHICKEN, (("700 г", "0.7", 359),), "kg"),
        Family("MEA", "D1", "Голень куриная охлаждённая", CHICKEN, (("900 г", "0.9", 279),), "kg"),
        Family("MEA", "D1", "Бедро куриное охлаждённое", CHICKEN, (("900 г", "0.9", 299),), "kg"),
        Family("MEA", "D2", "", NO_BRAND,
               (("Свинина шейка", None, 499), ("Свинина окорок", None, 389), ("Говядина лопатка", None, 699)),
               measure="kg"),
    )),
    Section("Колбасы и сосиски", VAT_10, (
        Family("SSG", "D3", "Колбаса варёная", (("Останкино", 1.0), ("Велком", 1.15)),
               (("Докторская 400 г", "0.4", 329), ("Молочная 400 г", "0.4", 299)), "kg"),
        Family("SSG", "D3", "Сервелат", (("Останкино", 1.0), ("Черкизово", 1.05)),
               (("Финский 350 г", "0.35", 289), ("Ореховый 350 г", "0.35", 299)), "kg"),
        Family("SSG", "D3", "Сосиски", (("Останкино", 1.0), ("Папа может", 0.95)),
               (("Молочные 450 г", "0.45", 249), ("Сливочные 450 г", "0.45", 259)), "kg"),
    )),
    Section("Рыба и морепродукты", VAT_10, (
        Family("FSH", "D4", "Филе сельди", (("Санта Бремор", 1.0), ("Меридиан", 0.95)),
               (("в масле 250 г", "0.25", 159), ("с укропом 250 г", "0.25", 165)), "kg"),
        # Salmon is a delicacy: general VAT.
        Family("FSH", "D4", "Сёмга слабосолёная", (("Русское море", 1.0),), (("ломтики 120 г", "0.12", 349),), "kg",
               tax_group=VAT_20),
        Family("FSH", "D4", "Крабовые палочки", (("Меридиан", 1.0), ("Русское море", 1.05)),
               (("200 г", "0.2", 149),), "kg"),
    )),
    Section("Замороженные продукты", VAT_10, (
        Family("FRZ", "D5", "Пельмени", (("Сибирская коллекция", 1.2), ("Цезарь", 1.0), ("Мираторг", 1.1)),
               (("классические 700 г", "0.7", 299),), "kg"),
        Family("FRZ", "D5", "Вареники", (("Морозко", 1.0),),
               (("с картофелем 900 г", "0.9", 189), ("с вишней 900 г", "0.9", 249)), "kg", tax_group=VAT_20),
        Family("FRZ", "D5", "Смесь овощная мексиканская", FROZEN_VEG, (("400 г", "0.4", 159),), "kg"),
        Family("FRZ", "D5", "Брокколи замороженная", FROZEN_VEG, (("400 г", "0.4", 179),), "kg"),
        Family("FRZ", "D5", "Филе минтая замороженное", (("Меридиан", 1.0),), (("400 г", "0.4", 229),), "kg"),
        Family("FRZ", "D6", "Мороженое", (("Чистая линия", 1.1), ("48 копеек", 1.0)),
               (("пломбир ванильный 80 г", "0.08", 79), ("пломбир шоколадный 80 г", "0.08", 85)), "kg"),
    )),
    Section("Напитки", VAT_20, (
        Family("DRK", "E1", "Вода питьевая", (("Святой источник", 1.0), ("Шишкин лес", 0.95)),
               (("негазированная 1,5 л", "1.5", 59), ("газированная 1,5 л", "1.5", 59)), "l"),
        Family("DRK", "E1", "Вода минеральная", (("Боржоми", 1.6), ("Нарзан", 1.1), ("Ессентуки №4", 1.0)),
               (("0,5 л", "0.5", 99),), "l"),
        Family("DRK", "E2", "Сок", (("Добрый", 1.0), ("Я", 1.25)),
               (("яблочный 1 л", "1", 129), ("апельсиновый 1 л", "1", 139), ("томатный 1 л", "1", 125)), "l"),
        Family("DRK", "E2", "Напиток газированный", (("Черноголовка", 1.0),),
               (("Тархун 0,5 л", "0.5", 79), ("Дюшес 0,5 л", "0.5", 79), ("Байкал 0,5 л", "0.5", 79),
                ("Лимонад 1,5 л", "1.5", 129)), "l"),
        Family("DRK", "E2", "Квас", (("Очаковский", 1.0), ("Никола", 1.05)),
               (("1,5 л", "1.5", 109), ("0,5 л", "0.5", 59)), "l"),
        Family("DRK", "E2", "Квас разливной", NO_BRAND, (("", None, 89),), measure="l"),
    )),
    Section("Чай и кофе", VAT_20, (
        Family("TEA", "E3", "Чай чёрный", (("Майский", 1.0), ("Принцесса Нури", 0.8), ("Гринфилд", 1.3)),
               (("в пакетиках 25×2 г", "0.05", 119), ("листовой 100 г", "0.1", 139)), "100g"),
        Family("TEA", "E3", "Чай зелёный", (("Гринфилд", 1.3), ("Принцесса Ява", 0.8)),
               (("в пакетиках 25×2 г", "0.05", 119),), "100g"),
        Family("COF", "E4", "Кофе молотый", (("Жокей", 1.0), ("Чёрная карта", 1.1)), (("250 г", "0.25", 349),), "kg"),
        Family("COF", "E4", "Кофе в зёрнах", (("Жокей", 1.0), ("Чёрная карта", 1.1), ("Lavazza", 1.8)),
               (("250 г", "0.25", 399), ("1 кг", "1", 1299)), "kg"),
        Family("COF", "E4", "Кофе растворимый",
               (("Nescafé Gold", 1.1), ("Jacobs Monarch", 1.0), ("Московская кофейня на паяхъ", 1.05)),
               (("95 г", "0.095", 419), ("190 г", "0.19", 749)), "100g"),
        Family("COF", "E4", "Какао-порошок", (("Золотой ярлык", 1.0),), (("100 г", "0.1", 129),), "100g"),
    )),
    Section("Сладости", VAT_20, (
        Family("SWT", "F1", "Шоколад", (("Бабаевский", 1.0), ("Коркунов", 1.4), ("Россия — щедрая душа", 0.95)),
               (("молочный 90 г", "0.09", 99), ("с фундуком 90 г", "0.09", 119)), "100g"),
        Family("SWT", "F1", "Шоколад молочный", (("Алёнка", 1.0),), (("100 г", "0.1", 109),), "100g"),
        Family("SWT", "F1", "Конфеты", NO_BRAND,
               (("«Мишка косолапый» 200 г", "0.2", 249), ("«Красная Шапочка» 200 г", "0.2", 239),
                ("«Птичье молоко» 225 г", "0.225", 299), ("«Коровка» 250 г", "0.25", 199),
                ("«Белочка» 200 г", "0.2", 259)), "kg"),
        Family("SWT", "F2", "Печенье", (("Юбилейное", 1.0), ("Любятово", 0.9)),
               (("молочное 112 г", "0.112", 59), ("овсяное 250 г", "0.25", 89)), "kg"),
        Family("SWT", "F2", "Вафли", (("Яшкино", 1.0), ("Акульчев", 1.1)),
               (("сливочные 300 г", "0.3", 99), ("шоколадные 300 г", "0.3", 109)), "kg"),
        Family("SWT", "F2", "Зефир", (("Шармэль", 1.0), ("Ударница", 1.1)), (("ванильный 255 г", "0.255", 139),), "kg"),
        Family("SWT", "F2", "Мёд", (("Берестов", 1.0),),
               (("цветочный 500 г", "0.5", 349), ("гречишный 500 г", "0.5", 389)), "kg"),
    )),
    Section("Снеки", VAT_20, (
        Family("SNK", "F3", "Чипсы картофельные", (("Русская картошка", 1.0), ("Московский картофель", 1.05)),
               (("со сметаной и луком 140 г", "0.14", 139), ("с солью 140 г", "0.14", 129)), "kg"),
        Family("SNK", "F3", "Сухарики ржаные", (("Кириешки", 1.0), ("3 корочки", 0.95)),
               (("со вкусом бекона 40 г", "0.04", 39), ("со вкусом сметаны и зелени 40 г", "0.04", 39)), "kg"),
        Family("SNK", "F3", "Семечки жареные", (("Бабкины", 1.0), ("От Мартина", 1.1)), (("300 г", "0.3", 99),), "kg"),
        Family("SNK", "F3", "Фисташки жареные солёные", NO_BRAND, (("150 г", "0.15", 299),), "kg"),
    )),
    Section("Детское питание", VAT_10, (
        Family("BBY", "F4", "Пюре", (("ФрутоНяня", 1.0), ("Агуша", 1.05)),
               (("яблоко 90 г", "0.09", 49), ("груша 90 г", "0.09", 52), ("яблоко и банан 90 г", "0.09", 55)), "100g"),
        Family("BBY", "F4", "Каша", (("Малютка", 1.0), ("ФрутоНяня", 1.05)),
               (("гречневая безмолочная 200 г", "0.2", 199), ("овсяная молочная 200 г", "0.2", 209)), "100g"),
        Family("BBY", "F4", "Смесь молочная", (("Малютка 1", 1.0), ("Нутрилон 1", 1.6)),
               (("с рождения 350 г", "0.35", 599),), "100g"),
        Family("BBY", "F4", "Сок детский", (("Агуша", 1.0), ("ФрутоНяня", 1.0)), (("яблочный 0,2 л", "0.2", 39),), "l"),
    )),
    Section("Бытовая химия и гигиена", VAT_20, (
        Family("HHD", "F5", "Средство для мытья посуды", (("Fairy", 1.2), ("AOS", 1.0)),
               (("лимон 450 мл", "0.45", 149),), "l"),
        Family("HHD", "F5", "Стиральный порошок", (("Миф", 1.0), ("Tide", 1.15)),
               (("автомат 2,4 кг", "2.4", 499),), "kg"),
        Family("HHD", "F5", "Туалетная бумага", (("Zewa", 1.2), ("Папия", 1.1), ("Мягкий знак", 0.8)),
               (("2 слоя 8 рулонов", None, 259),)),
        Family("HHD", "F5", "Полотенца бумажные", (("Папия", 1.0), ("Мягкий знак", 0.8)), (("2 рулона", None, 159),)),
        Family("HYG", "F6", "Зубная паста", (("Новый жемчуг", 1.0), ("Лесной бальзам", 1.1)),
               (("отбеливающая 100 мл", "0.1", 119),)),
        Family("HYG", "F6", "Шампунь", (("Чистая линия", 1.0), ("Шаума", 1.3)),
               (("для всех типов волос 400 мл", "0.4", 199),)),
        Family("HYG", "F6", "Мыло", NO_BRAND,
               (("хозяйственное 72% 200 г", "0.2", 39), ("туалетное детское 90 г", "0.09", 35))),
    )),
    Section("Зоотовары", VAT_20, (
        Family("PET", "F6", "Корм для кошек", (("Whiskas", 1.0), ("Феликс", 1.05)),
               (("с курицей в желе 75 г", "0.075", 39), ("с говядиной в соусе 75 г", "0.075", 39)), "kg"),
    )),
)  # fmt: skip

#: How the name of a loose product says what its price is per.
LOOSE_SUFFIX = {"kg": ", кг", "l": ", л"}

#: Sold out here, so the kiosk offers them from the sister stores (``demo_stock`` leaves them out).
OUT_OF_STOCK = (
    "Кофе в зёрнах Lavazza 1 кг",
    "Масло оливковое Borges Extra Virgin 0,5 л",
    "Смесь молочная Нутрилон 1 с рождения 350 г",
    "Мёд Берестов гречишный 500 г",
    "Шампунь Шаума для всех типов волос 400 мл",
    "Стиральный порошок Tide автомат 2,4 кг",
    "Рис Мистраль басмати 500 г",
    "Сыр Умалат Рикотта 40% 250 г",
    "Вода минеральная Боржоми 0,5 л",
    "Конфеты «Птичье молоко» 225 г",
)

SISTER_STORES = (
    ("store-tverskaya", "Магазин на Тверской"),
    ("store-arbat", "Магазин на Арбате"),
)
#: How many products in stock here the sister stores report on, besides the sold-out ones.
ELSEWHERE_SAMPLE = 30

#: Loyalty card holders and their points.
CARD_HOLDERS = (
    ("Анна Смирнова", 1250),
    ("Иван Петров", 0),
    ("Ольга Кузнецова", 4870),
    ("Дмитрий Соколов", 320),
    ("Елена Васильева", 2100),
    ("Сергей Морозов", 75),
    ("Татьяна Новикова", 3600),
    ("Алексей Попов", 990),
)

#: Click-and-collect orders: id, customer, contact, collection code, deadline from now,
#: and the lines as product name and quantity.
PICKUPS = (
    ("CC-100227", "Ольга Кузнецова", "+7 916 204-18-37", "4821", -3 * HOUR, (
        ("Молоко Простоквашино 3,2% 0,9 л", "2"),
        ("Хлеб Коломенский Бородинский 400 г", "1"),
        ("Яблоки Гала, кг", "1.250"),
    )),
    ("CC-100231", "Дмитрий Соколов", "d.sokolov@example.com", "1937", 5 * HOUR, (
        ("Кофе в зёрнах Жокей 1 кг", "1"),
    )),
    ("CC-100232", "Марина Волкова", "+7 903 415-62-08", "5064", DAY, (
        ("Пельмени Сибирская коллекция классические 700 г", "2"),
        ("Сметана Домик в деревне 20% 300 г", "1"),
        ("Масло подсолнечное Олейна рафинированное 1 л", "1"),
        ("Сок Добрый яблочный 1 л", "3"),
    )),
    ("CC-100234", "Артём Зайцев", "+7 925 781-33-90", "7302", 2 * DAY, (
        ("Пюре ФрутоНяня яблоко 90 г", "6"),
        ("Каша Малютка гречневая безмолочная 200 г", "2"),
        ("Вода питьевая Святой источник негазированная 1,5 л", "4"),
    )),
)  # fmt: skip


def demo_inbound(now: float) -> InboundBatch:
    """Everything the cloud sends the demo store: catalogue, prices, cards, pickups, sister stores."""
    rng = random.Random(SEED)
    products, amounts = _catalogue(rng)
    by_name = {product.name: product for product in products}
    return InboundBatch(
        products=products,
        prices=[
            PriceIn(sku=product.sku, version=1, amount=amount, effective_at=aware(now - DAY))
            for product, amount in zip(products, amounts, strict=True)
        ],
        pickups=_pickups(now, by_name),
        loyalty=_loyalty(rng, now),
        stock_elsewhere=_elsewhere(rng, now, products, by_name),
    )


def demo_stock(batch: InboundBatch) -> list[tuple[str, Decimal]]:
    """The opening delivery, sku and quantity: enough for every pickup, nothing of the sold-out products."""
    rng = random.Random(SEED + 1)
    promised: dict[str, Decimal] = defaultdict(Decimal)
    for pickup in batch.pickups:
        for line in pickup.lines:
            promised[line.sku] += line.quantity
    stock = []
    for product in batch.products:
        if product.measure == "piece":
            quantity = Decimal(rng.randint(5, 60))
        else:
            quantity = Decimal(rng.randint(3_500, 40_000)).scaleb(-3)  # kg or litres, to three places
        if product.name in OUT_OF_STOCK:
            quantity = Decimal(0)
        quantity = max(quantity, promised[product.sku])
        if quantity:
            stock.append((product.sku, quantity))
    return stock


# -- how the tables become a batch --------------------------------------------------


class _Barcodes:
    """GTIN-13s: one GS1 company prefix (460–469 and five digits) per maker, its items numbered in turn."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.companies: dict[str, str] = {}
        self.last_item: dict[str, int] = {}

    def next(self, maker: str) -> str:
        if maker not in self.companies:
            taken = set(self.companies.values())
            company = ""
            while not company or company in taken:
                company = f"{self.rng.randrange(460, 470)}{self.rng.randrange(100_000):05d}"
            self.companies[maker] = company
            self.last_item[maker] = self.rng.randrange(100, 9_000)
        self.last_item[maker] += 1
        body = f"{self.companies[maker]}{self.last_item[maker]:04d}"
        return body + ean.calc_check_digit(body)


def _catalogue(rng: random.Random) -> tuple[list[ProductIn], list[int]]:
    """Every family's brands in every variant, and each one's price in kopecks."""
    barcodes = _Barcodes(rng)
    numbers: dict[str, int] = defaultdict(int)
    products: list[ProductIn] = []
    amounts: list[int] = []
    for section in SECTIONS:
        for family in section.families:
            for brand, dearness in family.brands:
                for label, net_content, roubles in family.variants:
                    numbers[family.prefix] += 1
                    name = " ".join(part for part in (family.noun, brand, label) if part)
                    loose = family.measure != "piece"
                    products.append(
                        ProductIn(
                            sku=f"{family.prefix}-{numbers[family.prefix]:03d}",
                            gtin=None if loose else barcodes.next(brand or f"{family.prefix} {family.noun}"),
                            name=name + LOOSE_SUFFIX[family.measure] if loose else name,
                            measure=family.measure,
                            net_content=Decimal(net_content) if net_content else None,
                            unit_price_basis=family.basis if net_content else None,
                            category=section.category,
                            aisle=family.aisle,
                            tax_group=family.tax_group or section.tax_group,
                            version=1,
                        )
                    )
                    amounts.append(_shelf_price(rng, roubles * dearness))
    return products, amounts


def _shelf_price(rng: random.Random, roubles: float) -> int:
    """A price near ``roubles``, in kopecks, as shops write it: 89,90 or 89,99."""
    whole = max(1, round(roubles * rng.uniform(0.95, 1.05)))
    return (whole - 1) * 100 + rng.choice((90, 99))


def _pickups(now: float, by_name: dict[str, ProductIn]) -> list[PickupIn]:
    return [
        PickupIn(
            id=order_id,
            version=1,
            customer_name=customer,
            customer_contact=contact,
            code=code,
            deadline=aware(now + due_in),
            lines=[
                PickupLine(sku=by_name[name].sku, quantity=Decimal(quantity), name=name) for name, quantity in lines
            ],
        )
        for order_id, customer, contact, code, due_in, lines in PICKUPS
    ]


def _loyalty(rng: random.Random, now: float) -> list[LoyaltySnapshotIn]:
    return [
        LoyaltySnapshotIn(
            card=f"77{rng.randrange(10**11):011d}", holder=holder, balance=balance, store_seq=0, as_of=aware(now - HOUR)
        )
        for holder, balance in CARD_HOLDERS
    ]


def _elsewhere(
    rng: random.Random, now: float, products: list[ProductIn], by_name: dict[str, ProductIn]
) -> list[StockElsewhereIn]:
    """What the sister stores hold of the sold-out products (at least one has some) and of a sample of others."""
    sold_out = {by_name[name].sku for name in OUT_OF_STOCK}
    in_stock = [p.sku for p in products if p.measure == "piece" and p.sku not in sold_out]
    reported = sold_out | set(rng.sample(in_stock, ELSEWHERE_SAMPLE))
    snapshots = []
    for product in products:
        if product.sku not in reported:
            continue
        counts = [rng.randint(1, 30) if rng.random() < 0.75 else 0 for _ in SISTER_STORES]
        if product.sku in sold_out and not any(counts):
            counts[0] = rng.randint(2, 12)
        snapshots += [
            StockElsewhereIn(
                store_id=store_id,
                store_name=store_name,
                sku=product.sku,
                available=Decimal(count),
                as_of=aware(now - 900),
            )
            for (store_id, store_name), count in zip(SISTER_STORES, counts, strict=True)
        ]
    return snapshots
