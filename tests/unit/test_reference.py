import re

from tahawul.schemas.reference import load_catalogue

CAT = load_catalogue()


def test_eleven_governorates_with_iso_codes() -> None:
    assert len(CAT.governorates) == 11
    assert all(re.fullmatch(r"OM-[A-Z]{2}", code) for code in CAT.governorates)
    assert CAT.governorates["OM-BS"].name_en == "North Al Batinah"


def test_catalogue_size_and_ownership() -> None:
    assert len(CAT.entities) >= 20
    assert len(CAT.services) >= 60
    for svc in CAT.services.values():
        assert svc.entity in CAT.entities
        assert svc.code.startswith(svc.entity + "-")
    assert all(CAT.services_by_entity[e] for e in CAT.entities)


def test_every_row_has_english_and_arabic_names() -> None:
    arabic = re.compile(r"[\u0600-\u06FF]")
    for row in [*CAT.entities.values(), *CAT.services.values(), *CAT.channels.values(),
                *CAT.governorates.values()]:
        assert row.name_en.strip()
        assert arabic.search(row.name_ar), row


def test_channel_modes() -> None:
    digital = {c for c, ch in CAT.channels.items() if ch.mode == "digital"}
    manual = {c for c, ch in CAT.channels.items() if ch.mode == "manual"}
    assert digital == {"portal", "mobile_app", "kiosk", "api", "assisted_digital"}
    assert manual == {"counter", "paper", "phone"}
