import datetime as dt

import pytest

from hotline.domain.errors import WeakPassword
from hotline.domain.password import check_strength, failures_today, hash_password, random_password, verify_password

MSISDN, ID_NUMBER = "13800138000", "110105194912310021"


@pytest.mark.parametrize("weak", ["111111", "000000", "123456", "234567", "654321", "987654", "567890",
                                  "098765"])
def test_refuses_repeated_digits_and_runs(weak):
    with pytest.raises(WeakPassword):
        check_strength(weak, MSISDN, ID_NUMBER)


def test_refuses_six_consecutive_digits_of_the_number_or_the_id():
    with pytest.raises(WeakPassword) as err:
        check_strength("800138", MSISDN, ID_NUMBER)
    assert "手机号码" in err.value.message_zh
    with pytest.raises(WeakPassword) as err:
        check_strength("194912", MSISDN, ID_NUMBER)
    assert "身份证" in err.value.message_zh


@pytest.mark.parametrize("bad", ["12345", "1234567", "12a456", "１２３４５６", ""])
def test_refuses_anything_but_six_ascii_digits(bad):
    with pytest.raises(WeakPassword) as err:
        check_strength(bad)
    assert err.value.message_zh == "服务密码须为6位数字。"


def test_accepts_a_reasonable_password():
    check_strength("369258", MSISDN, ID_NUMBER)


def test_hash_is_salted_slow_kdf_and_verifies():
    a, b = hash_password("369258", n=2**12), hash_password("369258", n=2**12)
    assert a != b and a.startswith("scrypt$4096$8$1$") and "369258" not in a
    assert verify_password("369258", a) and not verify_password("369259", a)
    assert not verify_password("369258", "garbage")


def test_random_passwords_are_strong():
    for _ in range(200):
        check_strength(random_password(MSISDN, ID_NUMBER), MSISDN, ID_NUMBER)


def test_failures_count_only_today():
    today = dt.date(2026, 11, 15)
    assert failures_today(3, today, today) == 3
    assert failures_today(3, today - dt.timedelta(days=1), today) == 0
    assert failures_today(0, None, today) == 0
