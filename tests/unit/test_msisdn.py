import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.domain.errors import InvalidMsisdn
from hotline.domain.msisdn import CHINA_MOBILE_SEGMENTS, mask_msisdn, normalize_msisdn


@pytest.mark.parametrize("raw", ["13800138000", "+8613800138000", "0086 138 0013 8000", "138-0013-8000",
                                 "+86 138-0013-8000", "８６１３８００１３８０００", " 138 0013 8000 "])
def test_normalises_common_spellings_of_a_number(raw):
    assert normalize_msisdn(raw) == "13800138000"


@pytest.mark.parametrize("raw", ["1380013800", "138001380001", "23800138000", "1380013800a", "", "+1 415 555 0100"])
def test_refuses_what_is_not_an_11_digit_mobile_number(raw):
    with pytest.raises(InvalidMsisdn) as err:
        normalize_msisdn(raw)
    assert "11位" in err.value.message_zh and "11-digit" in err.value.message_en


@pytest.mark.parametrize("raw", ["13012345678", "18912345678", "17712345678", "19912345678", "14512345678"])
def test_refuses_other_operators_numbers(raw):
    with pytest.raises(InvalidMsisdn) as err:
        normalize_msisdn(raw)
    assert "不是中国移动号码" in err.value.message_zh


def test_segments_are_exactly_china_mobiles():
    expected = {*map(str, range(134, 140)), "147", "150", "151", "152", "157", "158", "159", "172", "178",
                "182", "183", "184", "187", "188", "195", "197", "198"}
    assert CHINA_MOBILE_SEGMENTS == expected


@given(st.sampled_from(sorted(CHINA_MOBILE_SEGMENTS)), st.integers(0, 10**8 - 1))
def test_every_china_mobile_number_round_trips(segment, rest):
    number = f"{segment}{rest:08d}"
    assert normalize_msisdn(f"+86 {number[:3]} {number[3:7]} {number[7:]}") == number


def test_mask():
    assert mask_msisdn("13800138000") == "138****8000"
