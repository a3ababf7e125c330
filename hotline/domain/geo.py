"""Mainland China provincial-level divisions and their prefecture-level cities (GB/T 2260 codes).

Pure data and lookups, no I/O. Province-administered county-level cities (e.g. 仙桃, 济源) and
XPCC cities (e.g. 石河子) are left out: only prefecture-level units have a 4-digit prefix here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class City:
    name_zh: str  # official name without the 市 suffix, e.g. "广州", "延边朝鲜族自治州", "阿里地区"
    name_en: str
    admin_code: str  # 4-digit GB/T 2260 prefix, e.g. "4401"


@dataclass(frozen=True, slots=True)
class Province:
    code: str  # ISO 3166-2:CN subdivision code without "CN-", e.g. "GD"
    name_zh: str  # short name, e.g. "广东", "内蒙古"
    name_en: str
    admin_code: str  # 2-digit GB/T 2260 prefix, e.g. "44"
    weight: int  # population in millions (2020 census, rounded): relative draw weight
    cities: tuple[City, ...]

    @property
    def is_municipality(self) -> bool:
        return self.code in _MUNICIPALITIES

    @property
    def full_name_zh(self) -> str:
        """Official name with suffix, e.g. "广东省", "北京市", "广西壮族自治区"."""
        return self.name_zh + _SUFFIX_ZH.get(self.code, "省")


_MUNICIPALITIES = frozenset({"BJ", "TJ", "SH", "CQ"})
_SUFFIX_ZH = {"BJ": "市", "TJ": "市", "SH": "市", "CQ": "市", "NM": "自治区", "XZ": "自治区",
              "GX": "壮族自治区", "NX": "回族自治区", "XJ": "维吾尔自治区"}


def _c(table: str) -> tuple[City, ...]:
    """Parse lines of "<4-digit code> <name_zh> <name_en...>"."""
    return tuple(City(zh, en, code) for code, zh, en in
                 (line.split(maxsplit=2) for line in table.strip().splitlines()))


PROVINCES: tuple[Province, ...] = (
    Province("BJ", "北京", "Beijing", "11", 22, _c("1101 北京 Beijing")),
    Province("TJ", "天津", "Tianjin", "12", 14, _c("1201 天津 Tianjin")),
    Province("HE", "河北", "Hebei", "13", 75, _c("""
        1301 石家庄 Shijiazhuang
        1302 唐山 Tangshan
        1303 秦皇岛 Qinhuangdao
        1304 邯郸 Handan
        1305 邢台 Xingtai
        1306 保定 Baoding
        1307 张家口 Zhangjiakou
        1308 承德 Chengde
        1309 沧州 Cangzhou
        1310 廊坊 Langfang
        1311 衡水 Hengshui""")),
    Province("SX", "山西", "Shanxi", "14", 35, _c("""
        1401 太原 Taiyuan
        1402 大同 Datong
        1403 阳泉 Yangquan
        1404 长治 Changzhi
        1405 晋城 Jincheng
        1406 朔州 Shuozhou
        1407 晋中 Jinzhong
        1408 运城 Yuncheng
        1409 忻州 Xinzhou
        1410 临汾 Linfen
        1411 吕梁 Lüliang""")),
    Province("NM", "内蒙古", "Inner Mongolia", "15", 24, _c("""
        1501 呼和浩特 Hohhot
        1502 包头 Baotou
        1503 乌海 Wuhai
        1504 赤峰 Chifeng
        1505 通辽 Tongliao
        1506 鄂尔多斯 Ordos
        1507 呼伦贝尔 Hulunbuir
        1508 巴彦淖尔 Bayannur
        1509 乌兰察布 Ulanqab
        1522 兴安盟 Hinggan League
        1525 锡林郭勒盟 Xilingol League
        1529 阿拉善盟 Alxa League""")),
    Province("LN", "辽宁", "Liaoning", "21", 43, _c("""
        2101 沈阳 Shenyang
        2102 大连 Dalian
        2103 鞍山 Anshan
        2104 抚顺 Fushun
        2105 本溪 Benxi
        2106 丹东 Dandong
        2107 锦州 Jinzhou
        2108 营口 Yingkou
        2109 阜新 Fuxin
        2110 辽阳 Liaoyang
        2111 盘锦 Panjin
        2112 铁岭 Tieling
        2113 朝阳 Chaoyang
        2114 葫芦岛 Huludao""")),
    Province("JL", "吉林", "Jilin", "22", 24, _c("""
        2201 长春 Changchun
        2202 吉林 Jilin City
        2203 四平 Siping
        2204 辽源 Liaoyuan
        2205 通化 Tonghua
        2206 白山 Baishan
        2207 松原 Songyuan
        2208 白城 Baicheng
        2224 延边朝鲜族自治州 Yanbian Korean Autonomous Prefecture""")),
    Province("HL", "黑龙江", "Heilongjiang", "23", 32, _c("""
        2301 哈尔滨 Harbin
        2302 齐齐哈尔 Qiqihar
        2303 鸡西 Jixi
        2304 鹤岗 Hegang
        2305 双鸭山 Shuangyashan
        2306 大庆 Daqing
        2307 伊春 Yichun
        2308 佳木斯 Jiamusi
        2309 七台河 Qitaihe
        2310 牡丹江 Mudanjiang
        2311 黑河 Heihe
        2312 绥化 Suihua
        2327 大兴安岭地区 Da Hinggan Ling Prefecture""")),
    Province("SH", "上海", "Shanghai", "31", 25, _c("3101 上海 Shanghai")),
    Province("JS", "江苏", "Jiangsu", "32", 85, _c("""
        3201 南京 Nanjing
        3202 无锡 Wuxi
        3203 徐州 Xuzhou
        3204 常州 Changzhou
        3205 苏州 Suzhou
        3206 南通 Nantong
        3207 连云港 Lianyungang
        3208 淮安 Huai'an
        3209 盐城 Yancheng
        3210 扬州 Yangzhou
        3211 镇江 Zhenjiang
        3212 泰州 Taizhou
        3213 宿迁 Suqian""")),
    Province("ZJ", "浙江", "Zhejiang", "33", 65, _c("""
        3301 杭州 Hangzhou
        3302 宁波 Ningbo
        3303 温州 Wenzhou
        3304 嘉兴 Jiaxing
        3305 湖州 Huzhou
        3306 绍兴 Shaoxing
        3307 金华 Jinhua
        3308 衢州 Quzhou
        3309 舟山 Zhoushan
        3310 台州 Taizhou (Zhejiang)
        3311 丽水 Lishui""")),
    Province("AH", "安徽", "Anhui", "34", 61, _c("""
        3401 合肥 Hefei
        3402 芜湖 Wuhu
        3403 蚌埠 Bengbu
        3404 淮南 Huainan
        3405 马鞍山 Ma'anshan
        3406 淮北 Huaibei
        3407 铜陵 Tongling
        3408 安庆 Anqing
        3410 黄山 Huangshan
        3411 滁州 Chuzhou
        3412 阜阳 Fuyang
        3413 宿州 Suzhou (Anhui)
        3415 六安 Lu'an
        3416 亳州 Bozhou
        3417 池州 Chizhou
        3418 宣城 Xuancheng""")),
    Province("FJ", "福建", "Fujian", "35", 41, _c("""
        3501 福州 Fuzhou
        3502 厦门 Xiamen
        3503 莆田 Putian
        3504 三明 Sanming
        3505 泉州 Quanzhou
        3506 漳州 Zhangzhou
        3507 南平 Nanping
        3508 龙岩 Longyan
        3509 宁德 Ningde""")),
    Province("JX", "江西", "Jiangxi", "36", 45, _c("""
        3601 南昌 Nanchang
        3602 景德镇 Jingdezhen
        3603 萍乡 Pingxiang
        3604 九江 Jiujiang
        3605 新余 Xinyu
        3606 鹰潭 Yingtan
        3607 赣州 Ganzhou
        3608 吉安 Ji'an
        3609 宜春 Yichun (Jiangxi)
        3610 抚州 Fuzhou (Jiangxi)
        3611 上饶 Shangrao""")),
    Province("SD", "山东", "Shandong", "37", 102, _c("""
        3701 济南 Jinan
        3702 青岛 Qingdao
        3703 淄博 Zibo
        3704 枣庄 Zaozhuang
        3705 东营 Dongying
        3706 烟台 Yantai
        3707 潍坊 Weifang
        3708 济宁 Jining
        3709 泰安 Tai'an
        3710 威海 Weihai
        3711 日照 Rizhao
        3713 临沂 Linyi
        3714 德州 Dezhou
        3715 聊城 Liaocheng
        3716 滨州 Binzhou
        3717 菏泽 Heze""")),
    Province("HA", "河南", "Henan", "41", 99, _c("""
        4101 郑州 Zhengzhou
        4102 开封 Kaifeng
        4103 洛阳 Luoyang
        4104 平顶山 Pingdingshan
        4105 安阳 Anyang
        4106 鹤壁 Hebi
        4107 新乡 Xinxiang
        4108 焦作 Jiaozuo
        4109 濮阳 Puyang
        4110 许昌 Xuchang
        4111 漯河 Luohe
        4112 三门峡 Sanmenxia
        4113 南阳 Nanyang
        4114 商丘 Shangqiu
        4115 信阳 Xinyang
        4116 周口 Zhoukou
        4117 驻马店 Zhumadian""")),
    Province("HB", "湖北", "Hubei", "42", 58, _c("""
        4201 武汉 Wuhan
        4202 黄石 Huangshi
        4203 十堰 Shiyan
        4205 宜昌 Yichang
        4206 襄阳 Xiangyang
        4207 鄂州 Ezhou
        4208 荆门 Jingmen
        4209 孝感 Xiaogan
        4210 荆州 Jingzhou
        4211 黄冈 Huanggang
        4212 咸宁 Xianning
        4213 随州 Suizhou
        4228 恩施土家族苗族自治州 Enshi Tujia and Miao Autonomous Prefecture""")),
    Province("HN", "湖南", "Hunan", "43", 66, _c("""
        4301 长沙 Changsha
        4302 株洲 Zhuzhou
        4303 湘潭 Xiangtan
        4304 衡阳 Hengyang
        4305 邵阳 Shaoyang
        4306 岳阳 Yueyang
        4307 常德 Changde
        4308 张家界 Zhangjiajie
        4309 益阳 Yiyang
        4310 郴州 Chenzhou
        4311 永州 Yongzhou
        4312 怀化 Huaihua
        4313 娄底 Loudi
        4331 湘西土家族苗族自治州 Xiangxi Tujia and Miao Autonomous Prefecture""")),
    Province("GD", "广东", "Guangdong", "44", 126, _c("""
        4401 广州 Guangzhou
        4402 韶关 Shaoguan
        4403 深圳 Shenzhen
        4404 珠海 Zhuhai
        4405 汕头 Shantou
        4406 佛山 Foshan
        4407 江门 Jiangmen
        4408 湛江 Zhanjiang
        4409 茂名 Maoming
        4412 肇庆 Zhaoqing
        4413 惠州 Huizhou
        4414 梅州 Meizhou
        4415 汕尾 Shanwei
        4416 河源 Heyuan
        4417 阳江 Yangjiang
        4418 清远 Qingyuan
        4419 东莞 Dongguan
        4420 中山 Zhongshan
        4451 潮州 Chaozhou
        4452 揭阳 Jieyang
        4453 云浮 Yunfu""")),
    Province("GX", "广西", "Guangxi", "45", 50, _c("""
        4501 南宁 Nanning
        4502 柳州 Liuzhou
        4503 桂林 Guilin
        4504 梧州 Wuzhou
        4505 北海 Beihai
        4506 防城港 Fangchenggang
        4507 钦州 Qinzhou
        4508 贵港 Guigang
        4509 玉林 Yulin (Guangxi)
        4510 百色 Baise
        4511 贺州 Hezhou
        4512 河池 Hechi
        4513 来宾 Laibin
        4514 崇左 Chongzuo""")),
    Province("HI", "海南", "Hainan", "46", 10, _c("""
        4601 海口 Haikou
        4602 三亚 Sanya
        4603 三沙 Sansha
        4604 儋州 Danzhou""")),
    Province("CQ", "重庆", "Chongqing", "50", 32, _c("5001 重庆 Chongqing")),
    Province("SC", "四川", "Sichuan", "51", 84, _c("""
        5101 成都 Chengdu
        5103 自贡 Zigong
        5104 攀枝花 Panzhihua
        5105 泸州 Luzhou
        5106 德阳 Deyang
        5107 绵阳 Mianyang
        5108 广元 Guangyuan
        5109 遂宁 Suining
        5110 内江 Neijiang
        5111 乐山 Leshan
        5113 南充 Nanchong
        5114 眉山 Meishan
        5115 宜宾 Yibin
        5116 广安 Guang'an
        5117 达州 Dazhou
        5118 雅安 Ya'an
        5119 巴中 Bazhong
        5120 资阳 Ziyang
        5132 阿坝藏族羌族自治州 Ngawa Tibetan and Qiang Autonomous Prefecture
        5133 甘孜藏族自治州 Garze Tibetan Autonomous Prefecture
        5134 凉山彝族自治州 Liangshan Yi Autonomous Prefecture""")),
    Province("GZ", "贵州", "Guizhou", "52", 39, _c("""
        5201 贵阳 Guiyang
        5202 六盘水 Liupanshui
        5203 遵义 Zunyi
        5204 安顺 Anshun
        5205 毕节 Bijie
        5206 铜仁 Tongren
        5223 黔西南布依族苗族自治州 Qianxinan Buyei and Miao Autonomous Prefecture
        5226 黔东南苗族侗族自治州 Qiandongnan Miao and Dong Autonomous Prefecture
        5227 黔南布依族苗族自治州 Qiannan Buyei and Miao Autonomous Prefecture""")),
    Province("YN", "云南", "Yunnan", "53", 47, _c("""
        5301 昆明 Kunming
        5303 曲靖 Qujing
        5304 玉溪 Yuxi
        5305 保山 Baoshan
        5306 昭通 Zhaotong
        5307 丽江 Lijiang
        5308 普洱 Pu'er
        5309 临沧 Lincang
        5323 楚雄彝族自治州 Chuxiong Yi Autonomous Prefecture
        5325 红河哈尼族彝族自治州 Honghe Hani and Yi Autonomous Prefecture
        5326 文山壮族苗族自治州 Wenshan Zhuang and Miao Autonomous Prefecture
        5328 西双版纳傣族自治州 Xishuangbanna Dai Autonomous Prefecture
        5329 大理白族自治州 Dali Bai Autonomous Prefecture
        5331 德宏傣族景颇族自治州 Dehong Dai and Jingpo Autonomous Prefecture
        5333 怒江傈僳族自治州 Nujiang Lisu Autonomous Prefecture
        5334 迪庆藏族自治州 Diqing Tibetan Autonomous Prefecture""")),
    Province("XZ", "西藏", "Xizang", "54", 4, _c("""
        5401 拉萨 Lhasa
        5402 日喀则 Shigatse
        5403 昌都 Qamdo
        5404 林芝 Nyingchi
        5405 山南 Shannan
        5406 那曲 Nagqu
        5425 阿里地区 Ngari Prefecture""")),
    Province("SN", "陕西", "Shaanxi", "61", 40, _c("""
        6101 西安 Xi'an
        6102 铜川 Tongchuan
        6103 宝鸡 Baoji
        6104 咸阳 Xianyang
        6105 渭南 Weinan
        6106 延安 Yan'an
        6107 汉中 Hanzhong
        6108 榆林 Yulin (Shaanxi)
        6109 安康 Ankang
        6110 商洛 Shangluo""")),
    Province("GS", "甘肃", "Gansu", "62", 25, _c("""
        6201 兰州 Lanzhou
        6202 嘉峪关 Jiayuguan
        6203 金昌 Jinchang
        6204 白银 Baiyin
        6205 天水 Tianshui
        6206 武威 Wuwei
        6207 张掖 Zhangye
        6208 平凉 Pingliang
        6209 酒泉 Jiuquan
        6210 庆阳 Qingyang
        6211 定西 Dingxi
        6212 陇南 Longnan
        6229 临夏回族自治州 Linxia Hui Autonomous Prefecture
        6230 甘南藏族自治州 Gannan Tibetan Autonomous Prefecture""")),
    Province("QH", "青海", "Qinghai", "63", 6, _c("""
        6301 西宁 Xining
        6302 海东 Haidong
        6322 海北藏族自治州 Haibei Tibetan Autonomous Prefecture
        6323 黄南藏族自治州 Huangnan Tibetan Autonomous Prefecture
        6325 海南藏族自治州 Hainan Tibetan Autonomous Prefecture
        6326 果洛藏族自治州 Golog Tibetan Autonomous Prefecture
        6327 玉树藏族自治州 Yushu Tibetan Autonomous Prefecture
        6328 海西蒙古族藏族自治州 Haixi Mongol and Tibetan Autonomous Prefecture""")),
    Province("NX", "宁夏", "Ningxia", "64", 7, _c("""
        6401 银川 Yinchuan
        6402 石嘴山 Shizuishan
        6403 吴忠 Wuzhong
        6404 固原 Guyuan
        6405 中卫 Zhongwei""")),
    Province("XJ", "新疆", "Xinjiang", "65", 26, _c("""
        6501 乌鲁木齐 Urumqi
        6502 克拉玛依 Karamay
        6504 吐鲁番 Turpan
        6505 哈密 Hami
        6523 昌吉回族自治州 Changji Hui Autonomous Prefecture
        6527 博尔塔拉蒙古自治州 Bortala Mongol Autonomous Prefecture
        6528 巴音郭楞蒙古自治州 Bayingolin Mongol Autonomous Prefecture
        6529 阿克苏地区 Aksu Prefecture
        6530 克孜勒苏柯尔克孜自治州 Kizilsu Kirghiz Autonomous Prefecture
        6531 喀什地区 Kashgar Prefecture
        6532 和田地区 Hotan Prefecture
        6540 伊犁哈萨克自治州 Ili Kazakh Autonomous Prefecture
        6542 塔城地区 Tacheng Prefecture
        6543 阿勒泰地区 Altay Prefecture""")),
)

# --- lookups -------------------------------------------------------------------------------

_BY_CODE: dict[str, Province] = {p.code: p for p in PROVINCES}

# Longest first, so "壮族自治区" is stripped before "自治区".
_PROVINCE_SUFFIXES_ZH = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
_PROVINCE_SUFFIX_EN = re.compile(
    r"\s+(?:province|municipality|city|(?:(?:zhuang|hui|uyghur|uygur)\s+)?autonomous\s+region)$")
_PROVINCE_ALIASES_EN = {"tibet": "XZ", "nei mongol": "NM", "inner mongolia": "NM"}

# Ethnic designations inside prefecture names, stripped to get the colloquial short name.
_ETHNIC = ("朝鲜族", "土家族", "苗族", "藏族", "羌族", "彝族", "布依族", "侗族", "哈尼族", "壮族", "傣族",
           "景颇族", "傈僳族", "白族", "回族", "蒙古族", "蒙古", "柯尔克孜", "哈萨克")

_PREFECTURE_EN = re.compile(r"\s+(?:(?:\w+\s+)*autonomous\s+prefecture|prefecture|league)$")


def _norm(name: str) -> str:
    return " ".join(name.strip().lower().split())


def _build_province_index() -> dict[str, Province]:
    index: dict[str, Province] = {}
    for p in PROVINCES:
        index[p.name_zh] = index[p.full_name_zh] = index[_norm(p.name_en)] = p
    for alias, code in _PROVINCE_ALIASES_EN.items():
        index[alias] = _BY_CODE[code]
    return index


def _city_aliases(city: City) -> set[str]:
    """Names a caller may use for a city: "深圳"/"深圳市", "延边朝鲜族自治州"/"延边"/"延边州", "阿里地区"/"阿里"."""
    zh = city.name_zh
    aliases = {zh, _norm(city.name_en), _norm(city.name_en.split(" (")[0])}
    en_short = _PREFECTURE_EN.sub("", _norm(city.name_en))  # "yanbian", "ngari", "da hinggan ling"
    if zh.endswith("自治州"):
        short = zh.removesuffix("自治州")
        while stripped := next((e for e in _ETHNIC if short.endswith(e)), None):
            short = short.removesuffix(stripped)
        extra = {short, short + "州", en_short}
    elif zh.endswith(("地区", "盟")):
        extra = {zh.removesuffix("地区").removesuffix("盟"), en_short}
    else:
        return aliases | {zh + "市"}
    # Keep a short form such as "海南" (海南藏族自治州) from shadowing a province name.
    return aliases | {a for a in extra if a not in _PROVINCE_INDEX}


def _build_city_index() -> dict[str, tuple[Province, City]]:
    index: dict[str, tuple[Province, City]] = {}
    for p in PROVINCES:
        for city in p.cities:
            for alias in _city_aliases(city):
                # The first city wins on an ambiguous English name (e.g. "suzhou": Jiangsu's 苏州).
                index.setdefault(alias, (p, city))
    return index


_PROVINCE_INDEX = _build_province_index()
_CITY_INDEX = _build_city_index()


def province_by_code(code: str) -> Province:
    """Province for its short code ("GD"), case-insensitive; ``ValueError`` if unknown."""
    try:
        return _BY_CODE[code.strip().upper()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown province code {code!r}; expected one of {', '.join(_BY_CODE)}") from None


def find_province(name: str) -> Province | None:
    """Province by zh or en name, with or without suffix ("广东省", "广西壮族自治区", "Guangdong")."""
    key = _norm(name)
    if not key:
        return None
    if key in _PROVINCE_INDEX:
        return _PROVINCE_INDEX[key]
    for suffix in _PROVINCE_SUFFIXES_ZH:
        if key.endswith(suffix) and (hit := _PROVINCE_INDEX.get(key.removesuffix(suffix))):
            return hit
    return _PROVINCE_INDEX.get(_PROVINCE_SUFFIX_EN.sub("", key))


def find_city(name: str) -> tuple[Province, City] | None:
    """(province, city) by zh or en name, with or without 市, optionally prefixed by the province
    ("深圳", "深圳市", "广东省深圳市", "Shenzhen"). Municipalities are their own single city."""
    key = _norm(name)
    if not key:
        return None
    if hit := _CITY_INDEX.get(key) or _CITY_INDEX.get(re.sub(r"\s+city$", "", key)):
        return hit
    # "广东省深圳市" / "广东深圳": strip a leading province name and require the city to be in it.
    for alias, province in _PROVINCE_INDEX.items():
        if key.startswith(alias) and len(key) > len(alias):
            hit = _CITY_INDEX.get(key[len(alias):].lstrip())
            if hit and hit[0] is province:
                return hit
    return None
