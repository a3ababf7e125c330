import datetime as dt
import random

import pytest

from hotline.domain.geo import PROVINCES, find_city, find_province, province_by_code
from hotline.domain.identity import (
    GIVEN_CHARS,
    SURNAMES,
    id_checksum,
    is_valid_id_number,
    mask_id_number,
    mask_name,
    random_id_number,
    random_name,
)


def test_31_provinces_with_unique_codes():
    assert len(PROVINCES) == 31
    assert len({p.code for p in PROVINCES}) == 31
    assert len({p.admin_code for p in PROVINCES}) == 31
    assert len({p.name_zh for p in PROVINCES}) == 31
    assert all(p.weight > 0 and p.cities for p in PROVINCES)


def test_city_codes_nest_in_province_codes():
    codes = [c.admin_code for p in PROVINCES for c in p.cities]
    assert len(codes) == len(set(codes))
    for p in PROVINCES:
        for c in p.cities:
            assert len(c.admin_code) == 4 and c.admin_code.isdigit()
            assert c.admin_code.startswith(p.admin_code), (p.name_zh, c.name_zh)


def test_known_codes():
    gd = province_by_code("GD")
    assert (gd.name_zh, gd.admin_code, gd.full_name_zh) == ("广东", "44", "广东省")
    assert {c.name_zh: c.admin_code for c in gd.cities}["深圳"] == "4403"
    assert province_by_code("bj").cities[0].admin_code == "1101"
    with pytest.raises(ValueError):
        province_by_code("ZZ")


@pytest.mark.parametrize("name, code", [
    ("广东省", "GD"), ("广西壮族自治区", "GX"), ("新疆", "XJ"), ("新疆维吾尔自治区", "XJ"), ("Guangdong", "GD"),
    ("北京市", "BJ"), ("内蒙古自治区", "NM"), ("宁夏回族自治区", "NX"), ("shaanxi", "SN"), ("Shanxi", "SX"),
    ("Tibet", "XZ"), ("Sichuan Province", "SC"),
])
def test_find_province(name, code):
    province = find_province(name)
    assert province is not None and province.code == code


def test_find_province_unknown():
    assert find_province("火星") is None
    assert find_province("") is None


@pytest.mark.parametrize("name, province_code, city_code", [
    ("深圳市", "GD", "4403"), ("深圳", "GD", "4403"), ("Shenzhen", "GD", "4403"), ("广东省深圳市", "GD", "4403"),
    ("北京市", "BJ", "1101"), ("吉林市", "JL", "2202"), ("延边", "JL", "2224"), ("恩施州", "HB", "4228"),
    ("阿里地区", "XZ", "5425"), ("喀什", "XJ", "6531"), ("Yanbian", "JL", "2224"),
    ("海南州", "QH", "6325"),
])
def test_find_city(name, province_code, city_code):
    hit = find_city(name)
    assert hit is not None
    assert (hit[0].code, hit[1].admin_code) == (province_code, city_code)


def test_find_city_unknown():
    assert find_city("火星市") is None
    assert find_city("四川省深圳市") is None
    assert find_city("海南") is None  # a province, not a city (海南藏族自治州 needs its full name or 海南州)


def test_names():
    rng = random.Random(7)
    names = [random_name(rng) for _ in range(2000)]
    assert all(len(n) in (2, 3) for n in names)
    assert sum(len(n) == 3 for n in names) > len(names) // 2
    assert 90 <= len(SURNAMES) <= 120 and 180 <= len(GIVEN_CHARS) == len(set(GIVEN_CHARS))
    assert random_name(random.Random(1)) == random_name(random.Random(1))


def test_published_checksum():
    assert id_checksum("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number("11010519491231002x")
    with pytest.raises(ValueError):
        id_checksum("1101051949123100")


def test_generated_ids_validate():
    rng = random.Random(42)
    for p in PROVINCES:
        for c in p.cities:
            birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(30000))
            n = random_id_number(rng, c.admin_code, birth)
            assert is_valid_id_number(n), n
            assert n.startswith(c.admin_code) and n[6:14] == birth.strftime("%Y%m%d")
    assert int(random_id_number(rng, "4403", dt.date(1990, 5, 6), female=True)[16]) % 2 == 0
    assert int(random_id_number(rng, "4403", dt.date(1990, 5, 6), female=False)[16]) % 2 == 1


def test_invalid_ids():
    good = random_id_number(random.Random(3), "4401", dt.date(1985, 2, 28))
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    assert not is_valid_id_number(wrong_check)
    corrupted = good[:8] + str((int(good[8]) + 1) % 10) + good[9:]
    assert not is_valid_id_number(corrupted)
    bad_date = "44010119850230" + "123"
    assert not is_valid_id_number(bad_date + id_checksum(bad_date))
    assert not is_valid_id_number(good[:17])
    assert not is_valid_id_number("A" + good[1:])


def test_masks():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("李") == "*"
    assert mask_id_number("11010519491231002X") == "110105********002X"
