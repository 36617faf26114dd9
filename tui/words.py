"""What the console says, in Russian (the default) and English."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "StoreHub — консоль техника",
        "devices": "Устройства",
        "device": "Устройство",
        "id": "id",
        "kind": "тип",
        "status": "статус",
        "holder": "держит",
        "lease": "аренда",
        "queue": "очередь",
        "error": "ошибка",
        "hub_offline": "Хаб не в сети: данные устарели, переподключаюсь…",
        "bus_lost": "Нет связи с шиной: данные устарели, переподключаюсь…",
        "readonly": "Только чтение: действия запрещены",
        "confirm_release": "Освободить {device} у {holder}? Касса получит claim_lost.",
        "yes": "Да",
        "no": "Нет",
        "filter": "фильтр",
        "jump": "экран",
        "keys": "Клавиши",
        "events": "Последние события",
        "capabilities": "Возможности",
        "state": "Состояние",
        "answer": "Ответ",
        "no_such_screen": "Нет экрана «{name}»",
    },
    "en": {
        "title": "StoreHub — technician's console",
        "devices": "Devices",
        "device": "Device",
        "id": "id",
        "kind": "kind",
        "status": "status",
        "holder": "holder",
        "lease": "lease",
        "queue": "queue",
        "error": "error",
        "hub_offline": "The hub is offline: data is stale, reconnecting…",
        "bus_lost": "The bus is unreachable: data is stale, reconnecting…",
        "readonly": "Read-only: actions are refused",
        "confirm_release": "Free {device} from {holder}? The till gets claim_lost.",
        "yes": "Yes",
        "no": "No",
        "filter": "filter",
        "jump": "screen",
        "keys": "Keys",
        "events": "Latest events",
        "capabilities": "Capabilities",
        "state": "State",
        "answer": "Answer",
        "no_such_screen": "No screen “{name}”",
    },
}


def words(language: str) -> dict[str, str]:
    return WORDS.get(language, WORDS["ru"])
