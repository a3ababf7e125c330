"""SMS segmentation (70/67 UCS-2, 160/153 GSM-7, line-aware, 4 parts at most) and the command grammar."""

import hotline.services.service  # noqa: F401
from hotline.bss.products import load_products
from hotline.catalog.loader import load_catalog
from hotline.channels.sms import grammar, segments
from hotline.services.base import HANDLERS

PRODUCTS = load_products()
CATALOG = load_catalog(handlers=HANDLERS, products=[(p.code, p.kind.value) for p in PRODUCTS])


def test_a_chinese_message_of_70_characters_is_one_sms_and_71_are_two():
    assert segments.split("话" * 70).count == 1
    two = segments.split("话" * 71)
    assert two.encoding == "ucs2" and two.count == 2 and [len(p) for p in two.parts] == [67, 4]


def test_pure_ascii_uses_gsm7_limits_and_extension_characters_count_twice():
    assert segments.split("a" * 160).count == 1
    assert segments.split("a" * 161).parts[0] == "a" * 153
    assert segments.encoding_of("CXLL{1}") == "gsm7" and segments.length("{}") == 4
    assert segments.split("{" * 81).count == 2  # 162 septets


def test_a_reply_is_cut_at_line_ends_where_possible():
    lines = [f"{i}.咪咕音乐白金会员 15.00元/月" for i in range(1, 6)]
    seg = segments.split("\n".join(lines))
    assert seg.count > 1
    for part in seg.parts[:-1]:
        assert part.endswith("\n")  # no line torn between two messages
    assert "".join(seg.parts) == "\n".join(lines)


def test_a_reply_longer_than_four_parts_is_shortened_with_a_pointer_to_the_portal():
    text = "\n".join(f"第{i}行：通话记录 主叫 139****5678 4分05秒" for i in range(40))
    seg = segments.fit(text, "（完整内容请登录网上营业厅查看）")
    assert seg.count == 4 and seg.parts[-1].endswith("（完整内容请登录网上营业厅查看）")
    assert "第0行" in seg.parts[0]
    assert segments.fit("短", "x").parts == ["短"]


def test_letter_codes_are_case_insensitive_and_full_width_and_punctuation_are_normalised():
    for text in ("CXLL", "cxll", "ＣＸＬＬ", " c x l l 。", "CxLl！"):
        parsed = grammar.parse(CATALOG, PRODUCTS, "10086", text)
        assert parsed is not None and parsed.business.code == "query.data", text


def test_chinese_commands_and_aliases():
    assert grammar.parse(CATALOG, PRODUCTS, "10086", "查话费").business.code == "query.charges"
    assert grammar.parse(CATALOG, PRODUCTS, "10086", "查流量").business.code == "query.data"
    assert grammar.parse(CATALOG, PRODUCTS, "10086", "00000").business.code == "query.subscriptions"


def test_hash_separated_parameters_fill_the_slots_in_order():
    p = grammar.parse(CATALOG, PRODUCTS, "10086", "BGMM#123456#258147#258147")
    assert p.business.code == "password.change"
    assert p.params == {"old": "123456", "new": "258147", "again": "258147"}


def test_kt_and_qx_take_a_product_code_and_prefer_the_specific_business():
    p = grammar.parse(CATALOG, PRODUCTS, "10086", "ktll10")
    assert p.business.code == "order.data_pack.10g_month"
    p = grammar.parse(CATALOG, PRODUCTS, "10086", "QXLLY5")  # no specific business: the generic one
    assert p.business.code == "cancel.data_pack" and p.params == {"product": "pack.data_5g_monthly"}
    assert grammar.parse(CATALOG, PRODUCTS, "10086", "QXCL").business.code == "cancel.vas.ringback_tone"
    assert grammar.parse(CATALOG, PRODUCTS, "10086", "KTNOSUCH") is None


def test_password_replies_follow_the_star_rule():
    assert grammar.password_reply("369258") == ("369258", False)
    assert grammar.password_reply("*1234") == ("1234", True)
    assert grammar.password_reply("＊１２３４") == ("1234", True)
    assert grammar.password_reply("1234") is None
    assert grammar.password_reply("是") is None


def test_serial_lists_accept_both_commas():
    assert grammar.serials("1,2") == ["1", "2"]
    assert grammar.serials("1，3、4") == ["1", "3", "4"]
    assert grammar.serials("KTLL1") is None


def test_unknown_text_gets_the_closest_commands():
    hits = [cmd for cmd, _ in grammar.suggestions(CATALOG, "cxlll")]
    assert "CXLL" in hits
    hits = [b.code for _, b in grammar.suggestions(CATALOG, "查化费")]
    assert "query.charges" in hits
