"""A seeded synthetic portfolio of any size: Zhejiang government & enterprise accounts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from valuation import schema
from valuation.store import Store

__all__ = ["DEMO_SIGN_INS", "PASSWD_HINT", "default_as_of", "demo_sign_ins_left", "generate",
           "is_demo", "retire_demo_sign_ins", "set_demo_passwords", "write_demo"]

# Sign-ins created by write_demo: (user_id, password, role).
DEMO_SIGN_INS: list[tuple[str, str, str]] = [
    ("am01", "demo-am01", "account_manager"),
    ("am02", "demo-am02", "account_manager"),
    ("lead01", "demo-lead01", "sales_lead"),
    ("exec01", "demo-exec01", "executive"),
    ("admin", "demo-admin", "admin"),
]

HISTORY_MONTHS = 24  # months of bills, interactions and churn history ending with as_of's month
FUTURE_MONTHS = 6  # churn is also drawn this far after as_of (not written: about to churn)
USAGE_DAYS = 60  # days of member-line usage ending at as_of
ACCOUNTS_PER_MANAGER = 150
MANAGERS_PER_TEAM = 6

# ---------------------------------------------------------------------------------------------
# Geography: Zhejiang's 11 prefecture-level cities, their tier, weight (economy) and districts.
# District kinds: q = 区 district, x = 县 county, s = 县级市 county-level city.
# ---------------------------------------------------------------------------------------------
_CITIES: list[tuple[str, str, int, float, str]] = [
    # (English, Chinese without 市, tier, weight, districts "Pinyin:中文:kind ...")
    ("Hangzhou", "杭州", 1, 0.27,
     "Shangcheng:上城:q Gongshu:拱墅:q Xihu:西湖:q Binjiang:滨江:q Xiaoshan:萧山:q Yuhang:余杭:q "
     "Linping:临平:q Qiantang:钱塘:q Fuyang:富阳:q Lin'an:临安:q Tonglu:桐庐:x Chun'an:淳安:x "
     "Jiande:建德:s"),
    ("Ningbo", "宁波", 2, 0.18,
     "Haishu:海曙:q Jiangbei:江北:q Beilun:北仑:q Zhenhai:镇海:q Yinzhou:鄞州:q Fenghua:奉化:q "
     "Yuyao:余姚:s Cixi:慈溪:s Xiangshan:象山:x Ninghai:宁海:x"),
    ("Wenzhou", "温州", 2, 0.12,
     "Lucheng:鹿城:q Longwan:龙湾:q Ouhai:瓯海:q Dongtou:洞头:q Rui'an:瑞安:s Yueqing:乐清:s "
     "Longgang:龙港:s Yongjia:永嘉:x Pingyang:平阳:x Cangnan:苍南:x Wencheng:文成:x "
     "Taishun:泰顺:x"),
    ("Jiaxing", "嘉兴", 3, 0.07,
     "Nanhu:南湖:q Xiuzhou:秀洲:q Jiashan:嘉善:x Haiyan:海盐:x Haining:海宁:s Pinghu:平湖:s "
     "Tongxiang:桐乡:s"),
    ("Huzhou", "湖州", 3, 0.05,
     "Wuxing:吴兴:q Nanxun:南浔:q Deqing:德清:x Changxing:长兴:x Anji:安吉:x"),
    ("Shaoxing", "绍兴", 3, 0.08,
     "Yuecheng:越城:q Keqiao:柯桥:q Shangyu:上虞:q Zhuji:诸暨:s Shengzhou:嵊州:s Xinchang:新昌:x"),
    ("Jinhua", "金华", 3, 0.08,
     "Wucheng:婺城:q Jindong:金东:q Lanxi:兰溪:s Yiwu:义乌:s Dongyang:东阳:s Yongkang:永康:s "
     "Wuyi:武义:x Pujiang:浦江:x Pan'an:磐安:x"),
    ("Taizhou", "台州", 3, 0.075,
     "Jiaojiang:椒江:q Huangyan:黄岩:q Luqiao:路桥:q Linhai:临海:s Wenling:温岭:s Yuhuan:玉环:s "
     "Tiantai:天台:x Xianju:仙居:x Sanmen:三门:x"),
    ("Quzhou", "衢州", 4, 0.025,
     "Kecheng:柯城:q Qujiang:衢江:q Jiangshan:江山:s Changshan:常山:x Kaihua:开化:x "
     "Longyou:龙游:x"),
    ("Zhoushan", "舟山", 4, 0.02,
     "Dinghai:定海:q Putuo:普陀:q Daishan:岱山:x Shengsi:嵊泗:x"),
    ("Lishui", "丽水", 4, 0.025,
     "Liandu:莲都:q Longquan:龙泉:s Qingtian:青田:x Yunhe:云和:x Songyang:松阳:x Suichang:遂昌:x "
     "Jinyun:缙云:x Jingning:景宁畲族自治:x"),
]
# Where a city's accounts go when the portfolio is too small for a team there.
_NEAR: dict[str, tuple[str, ...]] = {
    "Hangzhou": (), "Ningbo": ("Hangzhou",), "Wenzhou": ("Taizhou", "Ningbo", "Hangzhou"),
    "Jiaxing": ("Hangzhou", "Huzhou"), "Huzhou": ("Hangzhou", "Jiaxing"),
    "Shaoxing": ("Hangzhou", "Ningbo"), "Jinhua": ("Hangzhou", "Shaoxing"),
    "Taizhou": ("Ningbo", "Wenzhou", "Hangzhou"), "Quzhou": ("Jinhua", "Hangzhou"),
    "Zhoushan": ("Ningbo", "Hangzhou"), "Lishui": ("Wenzhou", "Jinhua", "Hangzhou"),
}
# Town / subdistrict names (generic, used below district level).
_TOWNS = (
    "城东:Chengdong 城西:Chengxi 城南:Chengnan 城北:Chengbei 新城:Xincheng 东湖:Donghu "
    "白沙:Baisha 青山:Qingshan 石桥:Shiqiao 梅林:Meilin 新塘:Xintang 高桥:Gaoqiao 临江:Linjiang "
    "长安:Chang'an 金桥:Jinqiao 龙山:Longshan 凤凰:Fenghuang 双林:Shuanglin 大桥:Daqiao "
    "江南:Jiangnan 塘下:Tangxia 古塘:Gutang 横溪:Hengxi 花园:Huayuan 三江:Sanjiang 潘桥:Panqiao "
    "云龙:Yunlong 前洋:Qianyang 溪口:Xikou 柳市:Liushi 新桥:Xinqiao 北山:Beishan 南湖:Nanhu "
    "桥头:Qiaotou 黄湾:Huangwan 马渚:Mazhu 泗门:Simen 瓜沥:Guali 良渚:Liangzhu 仁和:Renhe"
)
# Brand words: first syllable x second syllable (about a thousand names).
_BRAND_A = (
    "恒:Heng 宏:Hong 金:Jin 华:Hua 永:Yong 兴:Xing 鑫:Xin 泰:Tai 瑞:Rui 嘉:Jia 信:Xin 德:De "
    "东:Dong 海:Hai 天:Tian 中:Zhong 新:Xin 盛:Sheng 宝:Bao 富:Fu 万:Wan 联:Lian 卓:Zhuo 博:Bo "
    "凯:Kai 汇:Hui 鼎:Ding 明:Ming 益:Yi 隆:Long 荣:Rong 昌:Chang 鸿:Hong 伟:Wei 同:Tong 利:Li"
)
_BRAND_B = (
    "达:da 源:yuan 丰:feng 泰:tai 通:tong 力:li 信:xin 盛:sheng 华:hua 兴:xing 宇:yu 诚:cheng "
    "和:he 昌:chang 安:'an 成:cheng 远:yuan 创:chuang 业:ye 立:li 顺:shun 基:ji 科:ke 辉:hui "
    "腾:teng 发:fa 润:run 鑫:xin 隆:long 邦:bang"
)
_SURNAMES = (
    "王:Wang 李:Li 张:Zhang 刘:Liu 陈:Chen 杨:Yang 黄:Huang 赵:Zhao 吴:Wu 周:Zhou 徐:Xu 孙:Sun "
    "马:Ma 朱:Zhu 胡:Hu 郭:Guo 何:He 林:Lin 高:Gao 罗:Luo 郑:Zheng 梁:Liang 谢:Xie 宋:Song "
    "唐:Tang 许:Xu 邓:Deng 冯:Feng 韩:Han 曹:Cao 沈:Shen 蒋:Jiang 钱:Qian 方:Fang 叶:Ye 金:Jin "
    "楼:Lou 俞:Yu 应:Ying 丁:Ding"
)
_GIVEN = (
    "伟:Wei 芳:Fang 娜:Na 敏:Min 静:Jing 丽:Li 强:Qiang 磊:Lei 军:Jun 洋:Yang 勇:Yong 艳:Yan "
    "杰:Jie 娟:Juan 涛:Tao 明:Ming 超:Chao 秀:Xiu 霞:Xia 平:Ping 刚:Gang 华:Hua 建:Jian 国:Guo "
    "文:Wen 辉:Hui 玲:Ling 斌:Bin 婷:Ting 宇:Yu 浩:Hao 凯:Kai 晨:Chen 欣:Xin 晓:Xiao 俊:Jun "
    "鹏:Peng 琳:Lin 雪:Xue 海:Hai 峰:Feng 燕:Yan 慧:Hui 红:Hong 嘉:Jia 振:Zhen 立:Li 志:Zhi "
    "春:Chun 颖:Ying 佳:Jia 思:Si 一:Yi 子:Zi 天:Tian 梦:Meng 雨:Yu 诗:Shi 泽:Ze 睿:Rui"
)
_ZH_DIGITS = "零一二三四五六七八九"


def _pairs(text: str) -> tuple[list[str], list[str]]:
    """``"中:en 文:wen"`` -> (["中", "文"], ["en", "wen"])."""
    zh, en = zip(*(item.split(":") for item in text.split()), strict=True)
    return list(zh), list(en)


def _zh_number(k: int) -> str:
    """1 -> 一, 12 -> 十二, 20 -> 二十, 105 -> 一百零五 (k < 1000)."""
    h, rest = divmod(k, 100)
    t, u = divmod(rest, 10)
    out = _ZH_DIGITS[h] + "百" if h else ""
    if t:
        out += ("" if (t == 1 and not h) else _ZH_DIGITS[t]) + "十"
    elif h and u:
        out += "零"
    if u:
        out += _ZH_DIGITS[u]
    return out or "零"


# ---------------------------------------------------------------------------------------------
# Industries: share of accounts and size mix (large, medium, small).
# ---------------------------------------------------------------------------------------------
_INDUSTRIES: list[tuple[str, float, tuple[float, float, float]]] = [
    ("government", 0.12, (0.08, 0.30, 0.62)),
    ("public_security", 0.03, (0.08, 0.30, 0.62)),
    ("education", 0.10, (0.04, 0.22, 0.74)),
    ("healthcare", 0.06, (0.06, 0.24, 0.70)),
    ("energy", 0.035, (0.12, 0.30, 0.58)),
    ("water_utility", 0.02, (0.08, 0.30, 0.62)),
    ("finance", 0.08, (0.07, 0.28, 0.65)),
    ("manufacturing", 0.21, (0.04, 0.18, 0.78)),
    ("logistics", 0.07, (0.03, 0.15, 0.82)),
    ("shipping", 0.02, (0.06, 0.22, 0.72)),
    ("conglomerate", 0.04, (0.12, 0.30, 0.58)),
    ("park", 0.025, (0.08, 0.35, 0.57)),
    ("commerce", 0.19, (0.02, 0.12, 0.86)),
]
_SIZES = ("large", "medium", "small")
_GOVERNMENT = ("government", "public_security")
_GROUP_INDUSTRIES = ("conglomerate", "energy", "finance", "logistics")
_COMPANY_INDUSTRIES = ("energy", "water_utility", "finance", "manufacturing", "logistics",
                       "shipping", "conglomerate", "commerce")
# Ports: shipping accounts sit mostly here.
_PORT_WEIGHTS = {"Ningbo": 0.38, "Zhoushan": 0.30, "Wenzhou": 0.1, "Taizhou": 0.1,
                 "Jiaxing": 0.07, "Hangzhou": 0.05}

# Item lists for the name templates: "中文:English".
_ITEMS: dict[str, tuple[str, ...]] = {
    "dept": (
        "教育局:Education Bureau",
        "财政局:Finance Bureau",
        "人力资源和社会保障局:Human Resources and Social Security Bureau",
        "自然资源和规划局:Natural Resources and Planning Bureau",
        "生态环境局:Ecology and Environment Bureau",
        "住房和城乡建设局:Housing and Urban-Rural Development Bureau",
        "交通运输局:Transport Bureau",
        "水利局:Water Resources Bureau",
        "农业农村局:Agriculture and Rural Affairs Bureau",
        "商务局:Commerce Bureau",
        "文化广电旅游局:Culture, Radio, Television and Tourism Bureau",
        "卫生健康委员会:Health Commission",
        "市场监督管理局:Market Supervision Administration",
        "应急管理局:Emergency Management Bureau",
        "民政局:Civil Affairs Bureau",
        "统计局:Statistics Bureau",
        "大数据发展管理局:Big Data Development Administration",
        "行政服务中心:Administrative Service Centre",
        "人民政府办公室:General Office of the People's Government",
        "机关事务管理局:Government Offices Administration",
    ),
    "prov_dept": (
        "教育厅:Department of Education",
        "财政厅:Department of Finance",
        "人力资源和社会保障厅:Department of Human Resources and Social Security",
        "自然资源厅:Department of Natural Resources",
        "生态环境厅:Department of Ecology and Environment",
        "交通运输厅:Department of Transport",
        "水利厅:Department of Water Resources",
        "商务厅:Department of Commerce",
        "卫生健康委员会:Health Commission",
        "大数据发展管理局:Big Data Development Administration",
        "人民政府办公厅:General Office of the People's Government",
    ),
    "gov_unit": (
        "信息中心:Information Centre",
        "办公室:General Office",
        "执法队:Law Enforcement Team",
        "服务中心:Service Centre",
        "档案馆:Archives",
        "培训中心:Training Centre",
        "监测站:Monitoring Station",
        "指挥中心:Command Centre",
    ),
    "town_office": (
        "街道办事处:Subdistrict Office",
        "镇人民政府:Town Government",
    ),
    "ps_prov": (
        "公安厅:Provincial Department of Public Security",
        "高级人民法院:High People's Court",
        "人民检察院:Provincial People's Procuratorate",
        "司法厅:Provincial Department of Justice",
        "消防救援总队:Fire and Rescue Corps",
    ),
    "ps_pref": (
        "公安局:Public Security Bureau",
        "中级人民法院:Intermediate People's Court",
        "人民检察院:People's Procuratorate",
        "司法局:Justice Bureau",
        "公安局交通警察支队:Traffic Police Detachment",
        "消防救援支队:Fire and Rescue Detachment",
    ),
    "ps_county": (
        "公安局:Public Security Bureau",
        "人民法院:People's Court",
        "人民检察院:People's Procuratorate",
        "司法局:Justice Bureau",
        "交警大队:Traffic Police Brigade",
        "消防救援大队:Fire and Rescue Brigade",
    ),
    "ps_town": (
        "派出所:Police Station",
        "司法所:Judicial Office",
    ),
    "uni": (
        "理工:Science and Technology",
        "师范:Normal",
        "财经:Finance and Economics",
        "医科:Medical",
        "科技:Technology",
        "外国语:Foreign Studies",
        "传媒:Media",
        "交通:Transport",
    ),
    "college": (
        "职业技术学院:Vocational and Technical College",
        "工商学院:Business College",
        "理工学院:Polytechnic College",
        "城市学院:City College",
        "艺术学院:Arts College",
        "信息工程学院:College of Information Engineering",
        "幼儿师范高等专科学校:Preschool Teachers College",
    ),
    "high": (
        "实验中学:Experimental High School",
        "外国语学校:Foreign Language School",
        "高级中学:Senior High School",
        "职业高级中学:Vocational High School",
    ),
    "town_school": (
        "中心小学:Central Primary School",
        "初级中学:Junior Middle School",
        "中心幼儿园:Central Kindergarten",
    ),
    "hosp_m": (
        "中医院:Hospital of Traditional Chinese Medicine",
        "妇幼保健院:Maternal and Child Health Hospital",
        "第二人民医院:Second People's Hospital",
        "人民医院:People's Hospital",
    ),
    "hosp_c": (
        "疾病预防控制中心:Center for Disease Control and Prevention",
        "口腔医院:Stomatological Hospital",
        "急救中心:Emergency Medical Center",
        "中心血站:Blood Center",
    ),
    "clinic": (
        "口腔门诊部:Dental Clinic",
        "医疗器械有限公司:Medical Devices Co., Ltd.",
        "大药房:Pharmacy",
        "康复医院:Rehabilitation Hospital",
        "体检中心:Health Check Center",
    ),
    "zheneng": (
        "发电有限公司:Power Generation Co., Ltd.",
        "热电有限公司:Thermal Power Co., Ltd.",
    ),
    "energy_s": (
        "新能源科技有限公司:New Energy Technology Co., Ltd.",
        "光伏科技有限公司:Photovoltaic Technology Co., Ltd.",
        "能源有限公司:Energy Co., Ltd.",
        "石油化工有限公司:Petrochemical Co., Ltd.",
    ),
    "water_m": (
        "自来水有限公司:Water Supply Co., Ltd.",
        "水务有限公司:Water Affairs Co., Ltd.",
        "排水有限公司:Drainage Co., Ltd.",
    ),
    "water_s": (
        "污水处理厂:Wastewater Treatment Plant",
        "水厂:Waterworks",
        "供水站:Water Supply Station",
    ),
    "bank": (
        "中国工商银行:ICBC",
        "中国农业银行:Agricultural Bank of China",
        "中国银行:Bank of China",
        "中国建设银行:China Construction Bank",
        "交通银行:Bank of Communications",
        "招商银行:China Merchants Bank",
        "浙商银行:China Zheshang Bank",
        "中国邮政储蓄银行:Postal Savings Bank of China",
        "兴业银行:Industrial Bank",
        "中信银行:China CITIC Bank",
    ),
    "insurer": (
        "中国人寿保险股份有限公司:China Life Insurance",
        "中国平安财产保险股份有限公司:Ping An Property & Casualty Insurance",
        "中国太平洋财产保险股份有限公司:CPIC Property & Casualty Insurance",
        "中国人民财产保险股份有限公司:PICC Property & Casualty",
    ),
    "fin_s": (
        "小额贷款股份有限公司:Microcredit Co., Ltd.",
        "保险代理有限公司:Insurance Agency Co., Ltd.",
        "融资租赁有限公司:Financial Leasing Co., Ltd.",
        "典当有限责任公司:Pawn Co., Ltd.",
    ),
    "mfg": (
        "汽车零部件:Auto Parts",
        "纺织:Textile",
        "电子:Electronics",
        "机械:Machinery",
        "化工:Chemical",
        "五金:Hardware",
        "服装:Garment",
        "家电:Home Appliance",
        "模具:Mould",
        "轴承:Bearing",
        "塑业:Plastics",
        "新材料:New Materials",
        "智能装备:Intelligent Equipment",
        "医药:Pharmaceutical",
        "印染:Printing and Dyeing",
        "阀门:Valve",
        "光电:Optoelectronics",
        "食品:Food",
    ),
    "logi": (
        "物流有限公司:Logistics Co., Ltd.",
        "供应链管理有限公司:Supply Chain Management Co., Ltd.",
        "运输有限公司:Transport Co., Ltd.",
        "冷链物流有限公司:Cold Chain Logistics Co., Ltd.",
        "国际货运代理有限公司:International Freight Forwarding Co., Ltd.",
        "仓储有限公司:Warehousing Co., Ltd.",
    ),
    "express": (
        "中通快递:ZTO Express",
        "圆通速递:YTO Express",
        "申通快递:STO Express",
        "韵达快递:Yunda Express",
        "顺丰速运:SF Express",
    ),
    "ship": (
        "海运有限公司:Shipping Co., Ltd.",
        "船务有限公司:Marine Co., Ltd.",
        "船舶修造有限公司:Shipbuilding and Repair Co., Ltd.",
        "港口服务有限公司:Port Services Co., Ltd.",
        "国际船舶代理有限公司:International Ship Agency Co., Ltd.",
    ),
    "city_group": (
        "城市建设投资集团有限公司:Urban Construction Investment Group Co., Ltd.",
        "交通投资集团有限公司:Transportation Investment Group Co., Ltd.",
        "国有资本投资运营有限公司:State-owned Capital Investment and Operation Co., Ltd.",
        "文化旅游集团有限公司:Culture and Tourism Group Co., Ltd.",
    ),
    "cong_s": (
        "实业有限公司:Industrial Co., Ltd.",
        "投资有限公司:Investment Co., Ltd.",
        "控股有限公司:Holdings Co., Ltd.",
    ),
    "zone": (
        "经济技术开发区管理委员会:"
        "Economic and Technological Development Zone Administrative Committee",
        "高新技术产业开发区管理委员会:"
        "High-tech Industrial Development Zone Administrative Committee",
        "综合保税区管理委员会:Comprehensive Bonded Zone Administrative Committee",
    ),
    "zone_d": (
        "经济开发区:Economic Development Zone",
        "工业园区:Industrial Park",
        "小微企业园:Small and Micro Enterprise Park",
    ),
    "park_s": (
        "科创园:Science and Innovation Park",
        "产业园运营有限公司:Industrial Park Operation Co., Ltd.",
        "众创空间:Maker Space",
    ),
    "com": (
        "商贸有限公司:Trading Co., Ltd.",
        "房地产开发有限公司:Real Estate Development Co., Ltd.",
        "餐饮管理有限公司:Catering Management Co., Ltd.",
        "物业管理有限公司:Property Management Co., Ltd.",
        "广告有限公司:Advertising Co., Ltd.",
        "网络科技有限公司:Network Technology Co., Ltd.",
        "电子商务有限公司:E-commerce Co., Ltd.",
        "建筑工程有限公司:Construction Engineering Co., Ltd.",
        "旅行社有限公司:Travel Agency Co., Ltd.",
        "大酒店:Grand Hotel",
        "律师事务所:Law Firm",
        "会计师事务所:Accounting Firm",
        "超市:Supermarket",
        "汽车销售服务有限公司:Auto Sales and Service Co., Ltd.",
    ),
    "com_l": (
        "商业集团有限公司:Commercial Group Co., Ltd.",
        "百货股份有限公司:Department Store Co., Ltd.",
        "房地产集团有限公司:Real Estate Group Co., Ltd.",
    ),
}

# Name templates per industry: (Chinese, English, item list, weights large/medium/small or an
# admin level). Fields: C city, D district, DP district with its city, T town, B brand,
# N ordinal, X item; an ``e`` suffix is the English form.
_TEMPLATES: dict[str, list[tuple[str, str, str | None, Any]]] = {
    "government": [
        ("浙江省{X}", "Zhejiang Provincial {Xe}", "prov_dept", "province"),
        ("{C}市{X}", "{Ce} Municipal {Xe}", "dept", "prefecture"),
        ("{DP}{X}", "{DPe} {Xe}", "dept", "county"),
        ("{DP}{T}{X}", "{Te} {Xe}, {DPe}", "town_office", "township"),
    ],
    "public_security": [
        ("浙江省{X}", "Zhejiang {Xe}", "ps_prov", "province"),
        ("{C}市{X}", "{Ce} {Xe}", "ps_pref", "prefecture"),
        ("{DP}{X}", "{DPe} {Xe}", "ps_county", "county"),
        ("{DP}{T}{X}", "{Te} {Xe}, {DPe}", "ps_town", "township"),
    ],
    "education": [
        ("{C}{X}大学", "{Ce} {Xe} University", "uni", (6, 0, 0)),
        ("{C}{X}", "{Ce} {Xe}", "college", (4, 3, 0)),
        ("{C}市第{N}中学", "{Ce} No. {Ne} Middle School", None, (0, 4, 1)),
        ("{DP}{X}", "{DPe} {Xe}", "high", (0, 3, 2)),
        ("{DP}第{N}小学", "{DPe} No. {Ne} Primary School", None, (0, 0, 4)),
        ("{DP}{T}{X}", "{Te} {Xe}, {DPe}", "town_school", (0, 0, 5)),
        ("{C}{B}幼儿园", "{Ce} {Be} Kindergarten", None, (0, 0, 2)),
    ],
    "healthcare": [
        ("{C}市第{N}人民医院", "{Ce} No. {Ne} People's Hospital", None, (4, 1, 0)),
        ("{C}市中心医院", "{Ce} Central Hospital", None, (2, 0, 0)),
        ("{C}市中医院", "{Ce} Hospital of Traditional Chinese Medicine", None, (2, 0, 0)),
        ("{DP}{X}", "{DPe} {Xe}", "hosp_m", (0, 4, 1)),
        ("{C}市{X}", "{Ce} {Xe}", "hosp_c", (1, 2, 0)),
        ("{DP}{T}社区卫生服务中心", "{Te} Community Health Service Centre, {DPe}", None, (0, 0, 4)),
        ("{C}{B}{X}", "{Ce} {Be} {Xe}", "clinic", (0, 1, 4)),
    ],
    "energy": [
        ("国网{C}供电公司", "State Grid {Ce} Power Supply Company", None, (3, 0, 0)),
        ("中国石化销售股份有限公司浙江{C}石油分公司", "Sinopec Zhejiang {Ce} Petroleum Branch",
         None, (2, 0, 0)),
        ("中国石油{C}销售分公司", "PetroChina {Ce} Marketing Branch", None, (1, 1, 0)),
        ("浙能{C}{X}", "Zheneng {Ce} {Xe}", "zheneng", (2, 1, 0)),
        ("{C}燃气集团有限公司", "{Ce} Gas Group Co., Ltd.", None, (1, 0, 0)),
        ("国网{DP}供电公司", "State Grid {DPe} Power Supply Company", None, (0, 4, 0)),
        ("{DP}燃气有限公司", "{DPe} Gas Co., Ltd.", None, (0, 2, 1)),
        ("{C}{B}{X}", "{Ce} {Be} {Xe}", "energy_s", (0, 2, 5)),
        ("中国石化{DP}{T}加油站", "Sinopec {Te} Filling Station, {DPe}", None, (0, 0, 3)),
    ],
    "water_utility": [
        ("{C}市水务集团有限公司", "{Ce} Water Group Co., Ltd.", None, (3, 0, 0)),
        ("{C}市自来水有限公司", "{Ce} Water Supply Co., Ltd.", None, (2, 1, 0)),
        ("{DP}{X}", "{DPe} {Xe}", "water_m", (0, 4, 1)),
        ("{DP}{T}{X}", "{Te} {Xe}, {DPe}", "water_s", (0, 1, 4)),
    ],
    "finance": [
        ("{X}{C}分行", "{Xe} {Ce} Branch", "bank", (5, 0, 0)),
        ("{X}{C}市分公司", "{Xe} {Ce} Branch", "insurer", (2, 1, 0)),
        ("{C}{D}农村商业银行", "{Ce} {De} Rural Commercial Bank", None, (1, 2, 0)),
        ("{X}{C}{D}支行", "{Xe} {Ce} {De} Sub-branch", "bank", (0, 5, 2)),
        ("{X}{C}市{D}支公司", "{Xe} {Ce} {De} Sub-branch", "insurer", (0, 2, 1)),
        ("{X}{C}{T}支行", "{Xe} {Ce} {Te} Sub-branch", "bank", (0, 0, 3)),
        ("{C}{B}{X}", "{Ce} {Be} {Xe}", "fin_s", (0, 0, 3)),
    ],
    "manufacturing": [
        ("浙江{B}{X}股份有限公司", "Zhejiang {Be} {Xe} Co., Ltd.", "mfg", (4, 1, 0)),
        ("{B}{X}集团有限公司", "{Be} {Xe} Group Co., Ltd.", "mfg", (2, 1, 0)),
        ("{C}{B}{X}有限公司", "{Ce} {Be} {Xe} Co., Ltd.", "mfg", (0, 3, 6)),
        ("{D}{B}{X}厂", "{De} {Be} {Xe} Factory", "mfg", (0, 0, 2)),
    ],
    "logistics": [
        ("{B}物流集团有限公司", "{Be} Logistics Group Co., Ltd.", None, (3, 0, 0)),
        ("{X}{C}分公司", "{Xe} {Ce} Branch", "express", (2, 2, 0)),
        ("{C}{B}{X}", "{Ce} {Be} {Xe}", "logi", (0, 3, 6)),
    ],
    "shipping": [
        ("{C}港引航站", "{Ce} Port Pilot Station", None, (2, 1, 0)),
        ("宁波舟山港{D}港埠分公司", "Ningbo-Zhoushan Port {De} Terminal Branch", None, (2, 1, 0)),
        ("{C}{B}{X}", "{Ce} {Be} {Xe}", "ship", (1, 3, 6)),
    ],
    "conglomerate": [
        ("{B}控股集团有限公司", "{Be} Holding Group Co., Ltd.", None, (3, 1, 0)),
        ("{C}{B}集团有限公司", "{Ce} {Be} Group Co., Ltd.", None, (1, 3, 1)),
        ("{C}市{X}", "{Ce} {Xe}", "city_group", (2, 1, 0)),
        ("{C}{B}{X}", "{Ce} {Be} {Xe}", "cong_s", (0, 1, 5)),
    ],
    "park": [
        ("{C}{X}", "{Ce} {Xe}", "zone", (3, 1, 0)),
        ("{DP}{X}", "{DPe} {Xe}", "zone_d", (1, 3, 1)),
        ("{C}{B}{X}", "{Ce} {Be} {Xe}", "park_s", (0, 1, 4)),
    ],
    "commerce": [
        ("{B}{X}", "{Be} {Xe}", "com_l", (3, 0, 0)),
        ("{C}{B}{X}", "{Ce} {Be} {Xe}", "com", (1, 3, 6)),
    ],
}
# Group heads and their branches: (Chinese, English) of the group's short name.
_GROUP_NAMES = {
    "conglomerate": ("控股集团", "Holding Group"),
    "energy": ("能源集团", "Energy Group"),
    "finance": ("金融控股集团", "Financial Holding Group"),
    "logistics": ("物流集团", "Logistics Group"),
}

# ---------------------------------------------------------------------------------------------
# The product catalogue. Ours in four families, two competitors' in the first three.
# Columns: id, 中文, English, family, provider, function, industries, list price (yuan per unit
# per month), unit (how quantity is drawn), propensity for large / medium / small accounts.
# ---------------------------------------------------------------------------------------------
_COMPETITORS = [("C1", "中国电信", "China Telecom"), ("C2", "中国联通", "China Unicom")]
_COM, _INF, _IND, _SUP = "communication", "information", "industry", "service_support"
_PRODUCTS: list[tuple[str, str, str, str, str, str, str, float, str, tuple[float, ...]]] = [
    ("P-COM-VOICE", "固定电话", "Fixed voice", _COM, "ours", "voice", "", 30.0, "line",
     (4, 4, 3)),
    ("P-COM-MOBILE", "集团统付移动套餐", "Group mobile plan", _COM, "ours", "mobile", "", 58.0,
     "line", (5, 5, 4)),
    ("P-COM-CUG", "集团V网", "Closed user group (V-Net)", _COM, "ours", "cug", "", 5.0, "line",
     (5, 3, 1.2)),
    ("P-COM-LD", "长途/IP长途", "Long distance / IP long distance", _COM, "ours",
     "long_distance", "", 150.0, "one", (2.5, 1.5, 0.6)),
    ("P-COM-BB", "光宽带", "Fibre broadband", _COM, "ours", "broadband", "", 199.0, "site",
     (2, 2.5, 3)),
    ("P-COM-DIA", "互联网专线", "Dedicated internet access", _COM, "ours", "dia", "", 2800.0,
     "few", (3.5, 1.5, 0.3)),
    ("P-COM-VPN", "IP-VPN", "IP-VPN", _COM, "ours", "ipvpn", "", 1800.0, "site", (3, 0.8, 0.1)),
    ("P-COM-400", "400/800号码", "400/800 numbers", _COM, "ours", "number_400", "", 400.0,
     "one", (1.5, 0.8, 0.4)),
    ("P-INF-MAIL", "企业邮箱", "Enterprise e-mail", _INF, "ours", "email", "", 6.0, "line",
     (2, 1.5, 0.8)),
    ("P-INF-SMS", "集团短信/彩信", "Bulk SMS / MMS", _INF, "ours", "bulk_sms", "", 500.0, "one",
     (2.5, 1.5, 0.8)),
    ("P-INF-OA", "移动办公OA", "Mobile office (OA)", _INF, "ours", "oa", "", 10.0, "line",
     (2, 1.2, 0.4)),
    ("P-INF-VC", "视频会议", "Video conferencing", _INF, "ours", "video_conf", "", 600.0, "few",
     (2, 0.8, 0.2)),
    ("P-INF-PBX", "云总机", "Cloud switchboard", _INF, "ours", "cloud_pbx", "", 20.0, "line",
     (1, 1, 0.6)),
    ("P-INF-CLOUD", "云主机/云存储", "Cloud hosts & storage", _INF, "ours", "cloud", "", 1200.0,
     "unit", (2.5, 1.2, 0.4)),
    ("P-INF-HOST", "网站托管", "Web hosting", _INF, "ours", "hosting", "", 300.0, "one",
     (0.8, 0.8, 0.5)),
    ("P-IND-EGOV", "电子政务", "E-government network", _IND, "ours", "egov",
     "government;public_security", 2500.0, "few", (1, 1, 1)),
    ("P-IND-POLICE", "警务通", "Police mobile terminals", _IND, "ours", "police",
     "public_security", 80.0, "terminal", (1, 1, 1)),
    ("P-IND-SCHOOL", "家校互动", "School-home messaging", _IND, "ours", "school_home",
     "education", 3.0, "student", (1, 1, 1)),
    ("P-IND-FLEET", "物流定位/车联网", "Fleet tracking & M2M", _IND, "ours", "fleet_m2m",
     "logistics;shipping;manufacturing", 25.0, "terminal", (1, 1, 1)),
    ("P-IND-VIDEO", "视频监控(全球眼)", "Video surveillance (Global Eye)", _IND, "ours",
     "video_surveillance", "", 40.0, "camera", (2, 1.2, 0.5)),
    ("P-IND-BANKSMS", "银信通", "Bank messaging", _IND, "ours", "bank_sms", "finance", 1500.0,
     "one", (1, 1, 1)),
    ("P-IND-HEALTH", "医疗信息化", "Healthcare IT", _IND, "ours", "health_it", "healthcare",
     6000.0, "one", (1, 1, 1)),
    ("P-IND-PARK", "智慧园区", "Smart park", _IND, "ours", "smart_park", "park", 8000.0, "one",
     (1, 1, 1)),
    ("P-IND-WATER", "智慧水务", "Smart water", _IND, "ours", "smart_water", "water_utility",
     5000.0, "one", (1, 1, 1)),
    ("P-IND-ENERGY", "能源物联网", "Energy IoT", _IND, "ours", "energy_iot", "energy", 30.0,
     "terminal", (1, 1, 1)),
    ("P-SUP-VIP", "VIP专席", "Dedicated VIP agent", _SUP, "ours", "vip_agent", "", 0.0, "one",
     (3, 0.6, 0.03)),
    ("P-SUP-ONSITE", "驻点客户经理", "On-site account manager", _SUP, "ours", "onsite_manager",
     "", 5000.0, "one", (1.5, 0.15, 0.0)),
    ("P-SUP-SLA4H", "4小时修障SLA", "4-hour repair SLA", _SUP, "ours", "repair_sla", "", 800.0,
     "one", (2.5, 0.6, 0.03)),
    ("P-SUP-MAINT", "代维", "Managed maintenance", _SUP, "ours", "managed_maintenance", "",
     3000.0, "one", (1.5, 0.4, 0.02)),
    ("P-SUP-ICT", "ICT集成服务", "ICT integration services", _SUP, "ours", "ict_integration",
     "", 8000.0, "one", (1.5, 0.3, 0.01)),
    ("P-SUP-CLUB", "大客户俱乐部", "Key-account club", _SUP, "ours", "key_account_club", "",
     0.0, "one", (3, 0.3, 0.0)),
    # Competitors' products (异网): communication, information and industry families only.
    ("C1-MOBILE", "天翼集团手机", "China Telecom group mobile", _COM, "C1", "mobile", "", 55.0,
     "line", (5, 4, 3)),
    ("C1-VOICE", "电信固话", "China Telecom fixed voice", _COM, "C1", "voice", "", 28.0, "line",
     (2, 2, 2)),
    ("C1-BB", "电信光宽带", "China Telecom fibre broadband", _COM, "C1", "broadband", "", 180.0,
     "site", (3, 3, 4)),
    ("C1-DIA", "电信互联网专线", "China Telecom dedicated internet", _COM, "C1", "dia", "",
     2600.0, "few", (3, 1.5, 0.3)),
    ("C1-CLOUD", "天翼云", "Tianyi Cloud", _INF, "C1", "cloud", "", 1100.0, "unit", (2, 1, 0.5)),
    ("C1-EGOV", "电信政务外网", "China Telecom e-government network", _IND, "C1", "egov",
     "government;public_security", 2300.0, "few", (3, 3, 2)),
    ("C1-VIDEO", "天翼看家/全球眼", "China Telecom video surveillance", _IND, "C1",
     "video_surveillance", "", 35.0, "camera", (1.5, 1, 0.5)),
    ("C2-MOBILE", "联通集团手机", "China Unicom group mobile", _COM, "C2", "mobile", "", 55.0,
     "line", (4, 4, 3)),
    ("C2-BB", "联通宽带", "China Unicom broadband", _COM, "C2", "broadband", "", 170.0, "site",
     (2, 2.5, 3)),
    ("C2-DIA", "联通互联网专线", "China Unicom dedicated internet", _COM, "C2", "dia", "",
     2500.0, "few", (2.5, 1.2, 0.3)),
    ("C2-VPN", "联通IP-VPN", "China Unicom IP-VPN", _COM, "C2", "ipvpn", "", 1700.0, "site",
     (2, 0.6, 0.1)),
    ("C2-SMS", "联通集团短信", "China Unicom bulk SMS", _INF, "C2", "bulk_sms", "", 450.0, "one",
     (1.5, 1.2, 0.8)),
    ("C2-VC", "联通视频会议", "China Unicom video conferencing", _INF, "C2", "video_conf", "",
     550.0, "few", (1.5, 0.6, 0.2)),
    ("C2-FLEET", "联通车联网", "China Unicom fleet & M2M", _IND, "C2", "fleet_m2m",
     "logistics;shipping;manufacturing", 22.0, "terminal", (3, 3, 2)),
]
# Industry applications are drawn far more often by the industries they serve.
_INDUSTRY_BOOST: dict[str, dict[str, float]] = {
    "egov": {"government": 14.0, "public_security": 6.0},
    "police": {"public_security": 14.0},
    "school_home": {"education": 60.0},
    "fleet_m2m": {"logistics": 14.0, "shipping": 10.0, "manufacturing": 0.8},
    "bank_sms": {"finance": 14.0},
    "health_it": {"healthcare": 14.0},
    "smart_park": {"park": 12.0},
    "smart_water": {"water_utility": 12.0},
    "energy_iot": {"energy": 8.0},
    "video_surveillance": {"government": 2.0, "public_security": 3.0, "education": 1.5,
                           "park": 2.5, "commerce": 1.2},
}

# Independent random streams, one per stage, spawned from the seed: changing how many lines
# get daily usage never changes the accounts.
_STREAMS = ("accounts", "names", "users", "holdings", "contracts", "churn", "billing", "lines",
            "daily", "interactions")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def default_as_of(today: date | None = None) -> date:
    """The last day of the previous calendar month (of ``today``, default the real today)."""
    today = today or date.today()
    return today.replace(day=1) - timedelta(days=1)


def generate(*, accounts: int = 5000, seed: int = 7, as_of: date | None = None,
             line_accounts: int | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, pd.DataFrame]:
    """All fact tables (keys = schema.FACT_TABLES names), columns exactly schema's, in schema order.
    ``progress`` is told each stage as it starts (a million accounts take minutes).

    Deterministic for (seed, accounts, as_of, line_accounts). ``line_accounts`` accounts (a
    stratified random subset, default min(accounts, 5000)) get member lines with 60 days of
    daily usage ending at ``as_of`` (default: the last day of the previous month).

    The churn history is drawn from a monthly hazard that falls with our bundle depth (product
    families, comprehensive agreement, closed user group) and rises with competitor
    entanglement, a contract ending soon, payment stress (arrears) and dissatisfaction
    (complaints); annual churn is about 1% for large, 3.5% for medium and 9% for small accounts.
    Churn is drawn over the 24 months up to ``as_of`` and 6 months after it: only past churn is
    written to churn_events; accounts about to churn show the precursors (falling bills, arrears,
    complaints, a newly held competitor product, DOMAIN.md section 4 patterns on their lines).
    """
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    as_of_day = np.datetime64(pd.Timestamp(as_of or default_as_of()).date(), "D")
    n_line = min(accounts, 5000) if line_accounts is None else int(line_accounts)
    n_line = max(0, min(n_line, accounts))
    rng = np.random.default_rng(seed)
    r = dict(zip(_STREAMS, rng.spawn(len(_STREAMS)), strict=True))
    w = _World(accounts, as_of_day)
    say = progress or (lambda _stage: None)
    say(f"accounts ({accounts:,})")
    _make_accounts(w, r["accounts"])
    _make_names(w, r["names"])
    _make_users(w, r["users"])
    say("holdings and contracts")
    _make_holdings(w, r["holdings"])
    _make_contracts(w, r["contracts"])
    say("churn history")
    _make_churn(w, r["churn"])
    _finish_holdings(w, r["holdings"])
    say("monthly bills")
    _make_billing(w, r["billing"])
    say(f"member lines ({n_line:,} accounts) and their daily usage")
    _make_lines(w, r["lines"], n_line)
    _make_line_daily(w, r["daily"])
    say("interactions")
    _make_interactions(w, r["interactions"])
    say("assembling the tables")
    return _assemble(w)


def write_demo(store: Store, *, accounts: int = 5000, seed: int = 7, as_of: date | None = None,
               line_accounts: int | None = None, passwords: bool = True,
               progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Generate a portfolio and replace the store's facts with it, marking the database as a
    demo one; set the demo sign-ins' passwords (see DEMO_SIGN_INS and
    :func:`set_demo_passwords`: never over a password someone set). Returns the row count of
    every fact table."""
    frames = generate(accounts=accounts, seed=seed, as_of=as_of, line_accounts=line_accounts,
                      progress=progress)
    if progress:
        progress("writing the facts")
    counts = {name: len(df) for name, df in frames.items()}
    source = f"demo accounts={accounts} seed={seed}"
    store.replace_facts(frames, source=source, user="demo", meta={"demo": source})
    del frames
    if passwords:
        set_demo_passwords(store)
    return counts


# Said wherever demo sign-ins are still usable (terminal, the admin's sidebar).
PASSWD_HINT = ("set real passwords with `valuation passwd USER` (or import your users, which "
               "removes the demo sign-ins)")
_DEMO_BY = "demo"  # credentials.updated_by of the passwords the demo set


def is_demo(store: Store) -> bool:
    """True when the facts are the generated demo portfolio (no real users imported since)."""
    return store.meta("demo") is not None


def _demo_credentials(store: Store) -> list[str]:
    """Users whose stored password is a demo one: set by the demo, or (re-hashed at a sign-in,
    or set by hand to the published value) still matching its demo password."""
    from valuation.access import verify_password

    creds = store.app.select("credentials")
    demo_pw = {u: pw for u, pw, _ in DEMO_SIGN_INS}
    return sorted(str(r.user_id) for r in creds.itertuples()
                  if str(r.updated_by) == _DEMO_BY
                  or (str(r.user_id) in demo_pw
                      and verify_password(demo_pw[str(r.user_id)], str(r.password_hash))))


def set_demo_passwords(store: Store) -> tuple[list[str], list[str]]:
    """Give each demo sign-in its demo password, unless someone else set that user's password
    (a credential that is not a demo one is kept). Returns (set, kept) user ids."""
    from valuation.access import set_password

    have = set(store.app.select("credentials")["user_id"].astype(str))
    demo_ones = set(_demo_credentials(store))
    done, kept = [], []
    for user_id, password, _role in DEMO_SIGN_INS:
        if user_id in have and user_id not in demo_ones:
            kept.append(user_id)
            continue
        set_password(store, user_id, password, by=_DEMO_BY)
        done.append(user_id)
    return done, kept


_LEFT: dict[tuple[str, int], list[str]] = {}


def demo_sign_ins_left(store: Store) -> list[str]:
    """Users who still sign in with a demo password (published in the README): in a demo
    database, checked once per change of the credentials; elsewhere those the demo set."""
    if not is_demo(store):
        creds = store.app.select("credentials")
        return sorted(creds.loc[creds["updated_by"].astype(str) == _DEMO_BY,
                                "user_id"].astype(str))
    key = (store.app.url, store.app.counters().get("credentials", 0))
    if key not in _LEFT:
        _LEFT.clear()
        _LEFT[key] = _demo_credentials(store)
    return list(_LEFT[key])


def retire_demo_sign_ins(store: Store, *, by: str) -> list[str]:
    """Remove the demo's credentials: those the demo set, and any whose hash still matches a
    demo password (and revoke their open sessions). Audited; returns the user ids whose
    sign-in was removed. Called when real users are imported: the demo passwords must not
    open a real database."""
    import sqlalchemy as sa

    from valuation import signin

    gone = _demo_credentials(store)
    if not gone:
        return []
    tbl = store.app.tables["credentials"]
    with store.transaction() as tx:
        tx.execute(sa.delete(tbl).where(tbl.c.user_id.in_(gone)))
        tx.touched.add("credentials")
        for u in gone:  # a cookie must not restore a demo sign-in either
            signin.revoke_sessions(store, u, why="password", by=by, tx=tx)
            store.app.audit(tx, user=by, action="remove_demo_password", table_name="credentials",
                            row_key=json.dumps({"user_id": u}), before='{"password_hash": "***"}',
                            after=None)
    return sorted(gone)


# ---------------------------------------------------------------------------------------------
# Shared state and small vectorised helpers
# ---------------------------------------------------------------------------------------------
class _World:
    """Everything generated so far: numpy arrays per account, and finished tables."""

    def __init__(self, n: int, as_of: np.datetime64) -> None:
        self.n = n
        self.as_of = as_of
        month = as_of.astype("datetime64[M]")
        # Month index 0 .. HISTORY_MONTHS-1 is the history (the last is as_of's month); the
        # following FUTURE_MONTHS are after as_of.
        self.month0 = month - (HISTORY_MONTHS - 1)
        self.month_starts = (self.month0 + np.arange(HISTORY_MONTHS + FUTURE_MONTHS)).astype(
            "datetime64[D]")
        self.tables: dict[str, dict[str, Any]] = {}
        self.a: dict[str, Any] = {}  # per-account arrays

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Month index (0 = first history month) of datetime64[D] values."""
        return (days.astype("datetime64[M]") - self.month0).astype(np.int64)


def _pairs_arrays(text: str) -> tuple[pa.Array, pa.Array]:
    zh, en = _pairs(text)
    return pa.array(zh, pa.string()), pa.array(en, pa.string())


def _items(key: str) -> tuple[pa.Array, pa.Array]:
    zh, en = zip(*(item.split(":", 1) for item in _ITEMS[key]), strict=True)
    return pa.array(list(zh), pa.string()), pa.array(list(en), pa.string())


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and literals."""
    arrays = [p for p in parts if not isinstance(p, str)]
    if not arrays:
        raise ValueError("at least one array is needed")
    typ = arrays[0].type
    args = [pa.scalar(p, typ) if isinstance(p, str) else p for p in parts]
    if len(args) == 1:
        return args[0]
    return pc.binary_join_element_wise(*args, pa.scalar("", typ))


def _ids(prefix: str, n: int, width: int, start: int = 1, *, fixed: bool = True) -> pa.Array:
    """``prefix`` + numbers start .. start+n-1 zero-padded to ``width`` digits; ``fixed``: all
    as wide as the largest (else larger numbers are simply wider: am01 .. am99, am100)."""
    if fixed:
        width = max(width, len(str(start + n - 1)))
    nums = pa.array(np.arange(start, start + n, dtype=np.int64)).cast(pa.large_string())
    return _join(prefix, pc.utf8_lpad(nums, width, "0"))


def _take(values: pa.Array | list[str], idx: np.ndarray) -> pa.Array:
    arr = values if isinstance(values, pa.Array) else pa.array(values, pa.large_string())
    return arr.cast(pa.large_string()).take(pa.array(np.asarray(idx, dtype=np.int64)))


def _row_choice(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One category per row of the probability matrix ``p`` (rows need not be normalised)."""
    c = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * c[:, -1]
    return np.minimum((c < u[:, None]).sum(axis=1), p.shape[1] - 1)


def _topk_mask(rng: np.random.Generator, logw: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Weighted sampling without replacement, per row: a mask of ``k[i]`` columns drawn with
    log-weights ``logw[i]`` (Gumbel top-k; -inf never drawn)."""
    u = np.maximum(rng.random(logw.shape, dtype=np.float32), np.float32(1e-30))
    keys = logw - np.log(-np.log(u))
    m = logw.shape[1]
    kk = np.clip(k, 0, m)
    srt = np.sort(keys, axis=1)
    thr = srt[np.arange(len(keys)), m - np.maximum(kk, 1)]
    thr = np.where(kk > 0, thr, np.inf)
    return (keys >= thr[:, None]) & np.isfinite(logw)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _uniform_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A day uniformly in [lo, hi] (datetime64[D]; hi < lo gives lo)."""
    span = np.maximum((hi - lo).astype(np.int64), 0)
    return lo + np.floor(rng.random(len(span)) * (span + 1)).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Accounts
# ---------------------------------------------------------------------------------------------
_ADMIN_LEVELS = ("province", "prefecture", "county", "township")
_ADMIN_MIX = np.array([[0.20, 0.60, 0.20, 0.0], [0.02, 0.38, 0.55, 0.05], [0.0, 0.05, 0.45, 0.50]])
_FOOTPRINTS = ("local", "provincial", "national", "multinational")
_FOOTPRINT_MIX = np.array([[0.15, 0.40, 0.35, 0.10], [0.55, 0.35, 0.09, 0.01],
                           [0.93, 0.06, 0.01, 0.0]])
_CREDITS = ("AAA", "AA", "A", "B", "C")
_CREDIT_MIX = np.array([[0.35, 0.35, 0.20, 0.08, 0.02], [0.15, 0.30, 0.35, 0.15, 0.05],
                        [0.05, 0.15, 0.40, 0.28, 0.12]])
# employees: median and spread by size; revenue (or budget) per head by industry, yuan a year
_EMPLOYEES = ((2500.0, 0.8, 800, 100_000), (350.0, 0.6, 100, 2_000), (25.0, 0.9, 3, 200))
_REVENUE_PER_HEAD = {"government": 4e5, "public_security": 3.5e5, "education": 2.5e5,
                     "healthcare": 4e5, "energy": 3e6, "water_utility": 1.2e6, "finance": 2.5e6,
                     "manufacturing": 8e5, "logistics": 7e5, "shipping": 1.5e6,
                     "conglomerate": 2e6, "park": 6e5, "commerce": 9e5}


def _districts() -> dict[str, Any]:
    """Flat district table: city index, pinyin, Chinese short and full, prefixes, weights."""
    city, py, zh, dp, dpe, wt = [], [], [], [], [], []
    for c, (en, czh, _tier, _w, text) in enumerate(_CITIES):
        for item in text.split():
            p, z, kind = item.split(":")
            full = z + {"q": "区", "x": "县", "s": "市"}[kind]
            city.append(c)
            py.append(p)
            zh.append(z)
            if kind == "s":
                dp.append(full)
                dpe.append(p)
            else:
                dp.append(f"{czh}市{full}")
                dpe.append(f"{en} {p} {'District' if kind == 'q' else 'County'}")
            wt.append(1.5 if kind == "q" else 1.0)
    return {"city": np.array(city), "pinyin": py, "zh": zh, "prefix": dp, "prefix_en": dpe,
            "weight": np.array(wt)}


def _make_accounts(w: _World, rng: np.random.Generator) -> None:
    n, a = w.n, w.a
    ind_codes = [i[0] for i in _INDUSTRIES]
    shares = np.array([i[1] for i in _INDUSTRIES])
    industry = rng.choice(len(_INDUSTRIES), n, p=shares / shares.sum()).astype(np.int8)
    size = _row_choice(rng, np.array([i[2] for i in _INDUSTRIES])[industry]).astype(np.int8)
    city_w = np.array([c[3] for c in _CITIES])
    city = rng.choice(len(_CITIES), n, p=city_w / city_w.sum()).astype(np.int8)
    ship = industry == ind_codes.index("shipping")
    port_w = np.array([_PORT_WEIGHTS.get(c[0], 0.0) for c in _CITIES])
    city[ship] = rng.choice(len(_CITIES), int(ship.sum()), p=port_w / port_w.sum())
    gov = np.isin(industry, [ind_codes.index(g) for g in _GOVERNMENT])
    admin = np.full(n, -1, np.int8)
    admin[gov] = _row_choice(rng, _ADMIN_MIX[size[gov]])
    city[admin == 0] = 0  # provincial bodies sit in Hangzhou
    # groups: heads (large / medium of four industries) and branches in other cities
    parent = np.full(n, -1, np.int64)
    head = np.zeros(n, bool)
    lm = size < 2
    cand = np.flatnonzero(lm & np.isin(industry, [ind_codes.index(g) for g in _GROUP_INDUSTRIES]))
    n_heads = min(len(cand), int(round(0.03 * lm.sum())))
    if n_heads:
        heads = rng.choice(cand, n_heads, replace=False)
        head[heads] = True
        for code in _GROUP_INDUSTRIES:
            hs = heads[industry[heads] == ind_codes.index(code)]
            if len(hs) == 0:
                continue
            pool = rng.permutation(np.flatnonzero((industry == ind_codes.index(code)) & ~head
                                                  & (size > 0)))
            k = 2 + np.minimum(13, rng.geometric(0.3, len(hs)) - 1)
            parents = np.repeat(hs, k)[: int(0.6 * len(pool))]
            branches = pool[: len(parents)]
            parent[branches] = parents
            same = city[branches] == city[parents]
            city[branches[same]] = (city[parents[same]] + 1 + rng.integers(
                0, len(_CITIES) - 1, int(same.sum()))) % len(_CITIES)
    # district: drawn within the city
    dist = _districts()
    district = np.zeros(n, np.int16)
    for c in range(len(_CITIES)):
        rows = np.flatnonzero(city == c)
        ids = np.flatnonzero(dist["city"] == c)
        wt = dist["weight"][ids]
        district[rows] = ids[rng.choice(len(ids), len(rows), p=wt / wt.sum())]
    footprint = _row_choice(rng, _FOOTPRINT_MIX[size]).astype(np.int8)
    footprint[gov] = np.where(admin[gov] == 0, 1, 0)
    footprint[head] = rng.choice([1, 2, 3], int(head.sum()), p=[0.5, 0.4, 0.1])
    med, sd, lo, hi = (np.array(v, float) for v in zip(*_EMPLOYEES, strict=True))
    employees = np.clip(np.exp(np.log(med[size]) + sd[size] * rng.standard_normal(n)),
                        lo[size], hi[size]).round().astype(np.int64)
    employees[admin == 3] = np.maximum(3, employees[admin == 3] // 4)
    site_med = np.array([30.0, 6.0, 1.2])[size] * np.array([1.0, 1.6, 2.5, 3.0])[footprint]
    sites = np.maximum(1, np.exp(np.log(site_med) + 0.6 * rng.standard_normal(n))).round()
    sites = np.minimum(sites, np.array([2000, 60, 5])[size])
    sites = np.minimum(sites, np.maximum(1, employees // 5)).astype(np.int64)
    per_head = np.array([_REVENUE_PER_HEAD[c] for c in ind_codes])[industry]
    revenue = (employees * per_head * np.exp(0.5 * rng.standard_normal(n))).round(-3)
    company = np.isin(industry, [ind_codes.index(c) for c in _COMPANY_INDUSTRIES])
    listed = company & (rng.random(n) < np.array([0.30, 0.05, 0.003])[size])
    leader = rng.random(n) < np.array([0.25, 0.06, 0.005])[size]
    credit_size = np.where(gov, np.minimum(size, 1), size)
    credit = _row_choice(rng, _CREDIT_MIX[credit_size]).astype(np.int8)
    engagement = rng.standard_normal(n).astype(np.float32)  # latent appetite for our bundle
    it = np.array([4.0, 3.0, 2.0])[size] + 0.5 * engagement + 0.7 * rng.standard_normal(n)
    recent = rng.random(n) < np.array([0.03, 0.06, 0.09])[size]
    age_days = np.where(recent, rng.uniform(5, 365, n), rng.uniform(365, 15 * 365.25, n))
    a.update(
        industry=industry, size=size, city=city, district=district, admin=admin,
        footprint=footprint, employees=employees, sites=sites, revenue=revenue,
        listed=listed, leader=leader, credit=credit, it=np.clip(it.round(), 1, 5).astype(np.int64),
        parent=parent, head=head, engagement=engagement,
        dissatisfaction=rng.standard_normal(n).astype(np.float32),
        stress=(0.5 * (credit - 1.5) + 0.8 * rng.standard_normal(n)).astype(np.float32),
        onboard=w.as_of - age_days.astype(np.int64),
    )
    w.dist = dist
    w.ind_codes = ind_codes


def _make_names(w: _World, rng: np.random.Generator) -> None:
    """Chinese and English organisation names from parts by industry, size and admin level."""
    n, a, dist = w.n, w.a, w.dist
    city_zh = pa.array([c[1] for c in _CITIES], pa.string())
    city_en = pa.array([c[0] for c in _CITIES], pa.string())
    towns = _pairs_arrays(_TOWNS)
    ba, bb = _pairs_arrays(_BRAND_A), _pairs_arrays(_BRAND_B)
    b1 = rng.integers(0, len(ba[0]), n)
    b2 = rng.integers(0, len(bb[0]), n)
    b2 = np.where(pc.equal(_take(ba[0], b1), _take(bb[0], b2)).to_numpy(zero_copy_only=False),
                  (b2 + 1) % len(bb[0]), b2)
    brand_zh = _join(_take(ba[0], b1), _take(bb[0], b2))
    brand_en = _join(_take(ba[1], b1), _take(bb[1], b2))
    town = rng.integers(0, len(towns[0]), n)
    ordinal = np.minimum(20, rng.geometric(0.2, n))
    nums_zh = pa.array([_zh_number(k) for k in range(21)], pa.string())
    tpl_u = rng.random(n)
    item_u = rng.random(n)
    per_account = {
        "C": (city_zh, a["city"]), "Ce": (city_en, a["city"]),
        "D": (pa.array(dist["zh"]), a["district"]), "De": (pa.array(dist["pinyin"]), a["district"]),
        "DP": (pa.array(dist["prefix"]), a["district"]),
        "DPe": (pa.array(dist["prefix_en"]), a["district"]),
        "T": (towns[0], town), "Te": (towns[1], town), "N": (nums_zh, ordinal),
    }
    rows_parts, zh_parts, en_parts = [], [], []
    for i, code in enumerate(w.ind_codes):
        in_ind = np.flatnonzero(a["industry"] == i)
        if len(in_ind) == 0:
            continue
        tpls = _TEMPLATES[code]
        if code in _GOVERNMENT:
            choice = a["admin"][in_ind].astype(np.int64)
        else:
            wts = np.array([t[3] for t in tpls], float).T  # size x template
            choice = np.minimum((np.cumsum(wts / wts.sum(1, keepdims=True), 1)[a["size"][in_ind]]
                                 < tpl_u[in_ind, None]).sum(1), len(tpls) - 1)
        for t, (fmt_zh, fmt_en, items, _w) in enumerate(tpls):
            rows = in_ind[choice == t]
            if len(rows) == 0:
                continue
            fields: dict[str, pa.Array] = {}
            if items:
                iz, ie = _items(items)
                pick = np.floor(item_u[rows] * len(iz)).astype(np.int64)
                fields["X"], fields["Xe"] = _take(iz, pick), _take(ie, pick)
            rows_parts.append(rows)
            zh_parts.append(_fill(fmt_zh, rows, fields, per_account, brand_zh, brand_en, ordinal))
            en_parts.append(_fill(fmt_en, rows, fields, per_account, brand_zh, brand_en, ordinal))
    order = np.argsort(np.concatenate(rows_parts), kind="stable")
    name_zh = pa.concat_arrays(zh_parts).take(pa.array(order))
    name_en = pa.concat_arrays(en_parts).take(pa.array(order))
    # group heads and their branches
    parent = a["parent"]
    is_branch = parent >= 0
    if a["head"].any():
        gz = pa.array([_GROUP_NAMES.get(c, ("集团", "Group"))[0] for c in w.ind_codes])
        ge = pa.array([_GROUP_NAMES.get(c, ("集团", "Group"))[1] for c in w.ind_codes])
        h = np.flatnonzero(a["head"])
        hz = _join("浙江", brand_zh.take(pa.array(h)), _take(gz, a["industry"][h]), "有限公司")
        he = _join("Zhejiang ", brand_en.take(pa.array(h)), " ", _take(ge, a["industry"][h]),
                   " Co., Ltd.")
        b = np.flatnonzero(is_branch)
        p = parent[b]
        pairs = pd.DataFrame({"p": p, "c": a["city"][b]})
        again = pairs.groupby(["p", "c"]).cumcount().to_numpy() > 0  # 2nd branch in a city
        bz = _join(brand_zh.take(pa.array(p)), _take(gz, a["industry"][b]),
                   _take(city_zh, a["city"][b]),
                   pc.if_else(pa.array(again), _take(dist["zh"], a["district"][b]), ""), "分公司")
        be = _join(brand_en.take(pa.array(p)), " ", _take(ge, a["industry"][b]), " ",
                   _take(city_en, a["city"][b]),
                   pc.if_else(pa.array(again), _join(" ", _take(dist["pinyin"], a["district"][b])),
                              ""), " Branch")
        name_zh = _replace_rows(name_zh, h, hz, b, bz)
        name_en = _replace_rows(name_en, h, he, b, be)
    # duplicates: a government body's second entry is one of its units; then numbered suffixes
    dup = _dup_rank(name_zh)
    gov_dup = np.flatnonzero((dup > 0) & (a["admin"] >= 0))
    if len(gov_dup):
        uz, ue = _items("gov_unit")
        pick = (dup[gov_dup] - 1 + rng.integers(0, len(uz), len(gov_dup))) % len(uz)
        name_zh = _replace_rows(name_zh, gov_dup, _join(name_zh.take(pa.array(gov_dup)),
                                                        _take(uz, pick)))
        name_en = _replace_rows(name_en, gov_dup, _join(_take(ue, pick), ", ",
                                                        name_en.take(pa.array(gov_dup))))
        dup = _dup_rank(name_zh)
    if (dup > 0).any():
        k = pa.array(dup + 1).cast(pa.large_string())
        has = pa.array(dup > 0)
        name_zh = pc.if_else(has, _join(name_zh, "（", k, "）"), name_zh)
        name_en = pc.if_else(has, _join(name_en, " (", k, ")"), name_en)
    a["name"], a["name_en"] = name_zh, name_en


def _dup_rank(names: pa.Array) -> np.ndarray:
    """0 for the first occurrence of each name, 1 for the second, ..."""
    s = names.to_pandas()
    return s.groupby(s, sort=False).cumcount().to_numpy()


def _fill(fmt: str, rows: np.ndarray, fields: dict[str, pa.Array],
          per_account: dict[str, tuple[pa.Array, np.ndarray]], brand_zh: pa.Array,
          brand_en: pa.Array, ordinal: np.ndarray) -> pa.Array:
    """Fill a name template for ``rows``: literals and fields joined element-wise."""
    parts: list[pa.Array | str] = []
    for j, piece in enumerate(re.split(r"\{(\w+)\}", fmt)):
        if j % 2 == 0:
            if piece:
                parts.append(piece)
        elif piece in fields:
            parts.append(fields[piece])
        elif piece == "B":
            parts.append(brand_zh.take(pa.array(rows)))
        elif piece == "Be":
            parts.append(brand_en.take(pa.array(rows)))
        elif piece == "Ne":
            parts.append(pa.array(ordinal[rows]).cast(pa.large_string()))
        else:
            values, idx = per_account[piece]
            parts.append(_take(values, idx[rows]))
    return _join(*parts)


def _replace_rows(arr: pa.Array, *pairs: Any) -> pa.Array:
    """``arr`` with rows ``idx`` replaced by ``values``, for each (idx, values) pair."""
    src = np.zeros(len(arr), np.int64)
    pos = np.arange(len(arr), dtype=np.int64)
    chunks = [arr]
    offset = len(arr)
    for idx, values in zip(pairs[::2], pairs[1::2], strict=True):
        src[idx] = 1
        pos[idx] = offset + np.arange(len(idx))
        chunks.append(values)
        offset += len(idx)
    return pa.concat_arrays(chunks).take(pa.array(pos))


# ---------------------------------------------------------------------------------------------
# Users and teams
# ---------------------------------------------------------------------------------------------
def _make_users(w: _World, rng: np.random.Generator) -> None:
    """Managers (~150 accounts each) in teams of ~6 per city, a lead per team, 2 executives and
    the admin. Accounts are owned by a manager of their city (or the nearest city with one)."""
    a, n = w.a, w.n
    n_city = len(_CITIES)
    counts = np.bincount(a["city"], minlength=n_city)
    n_am = max(2, int(round(n / ACCOUNTS_PER_MANAGER)))
    quota = n_am * counts / n
    m = np.floor(quota).astype(np.int64)
    extra = np.argsort(-(quota - m), kind="stable")[: n_am - m.sum()]
    m[extra] += 1
    while m[0] < 2:  # the first team (T01, Hangzhou) has at least am01 and am02
        donor = int(np.argmax(np.where(np.arange(n_city) == 0, -1, m)))
        m[donor] -= 1
        m[0] += 1
    names = [c[0] for c in _CITIES]
    eff = np.arange(n_city)
    for c in range(n_city):
        if m[c] == 0:
            eff[c] = next((names.index(x) for x in _NEAR[names[c]] if m[names.index(x)] > 0), 0)
    teams_per_city = np.where(m > 0, np.maximum(1, np.round(m / MANAGERS_PER_TEAM)), 0).astype(
        np.int64)
    team_city = np.repeat(np.arange(n_city), teams_per_city)
    n_team = len(team_city)
    first_team = np.concatenate([[0], np.cumsum(teams_per_city)[:-1]])
    j = np.arange(n_team) - first_team[team_city]  # team number within its city
    t_c = teams_per_city[team_city]
    team_size = m[team_city] // t_c + (j < m[team_city] % t_c)
    manager_team = np.repeat(np.arange(n_team), team_size)
    first_manager = np.concatenate([[0], np.cumsum(m)[:-1]])
    ec = eff[a["city"]]
    a["owner"] = first_manager[ec] + np.floor(rng.random(n) * m[ec]).astype(np.int64)
    a["team"] = manager_team[a["owner"]]
    # tables
    team_ids = _ids("T", n_team, 2, fixed=False)
    city_zh = [c[1] for c in _CITIES]
    several = t_c > 1
    team_zh = [f"{city_zh[c]}政企客户{_zh_number(k + 1)}部" if s else f"{city_zh[c]}政企客户部"
               for c, k, s in zip(team_city, j, several, strict=True)]
    team_en = [f"{names[c]} G&E Accounts Team {k + 1}" if s else f"{names[c]} G&E Accounts Team"
               for c, k, s in zip(team_city, j, several, strict=True)]
    # user ids keep the demo sign-ins valid at any size: am01 .. am99, am100, ...
    am_ids = _ids("am", n_am, 2, fixed=False)
    lead_ids = _ids("lead", n_team, 2, fixed=False)
    exec_ids = _ids("exec", 2, 2, fixed=False)
    admin_id = pa.array(["admin"], pa.large_string())
    user_ids = pa.concat_arrays([am_ids, lead_ids, exec_ids, admin_id])
    n_users = len(user_ids)
    sz, se = _pairs_arrays(_SURNAMES)
    gz, ge = _pairs_arrays(_GIVEN)
    s_i = rng.integers(0, len(sz), n_users)
    g1, g2 = rng.integers(0, len(gz), n_users), rng.integers(0, len(gz), n_users)
    two = pa.array(rng.random(n_users) < 0.6)
    given_zh = pc.if_else(two, _join(_take(gz, g1), _take(gz, g2)), _take(gz, g1))
    given_en = pc.if_else(two, _join(_take(ge, g1), pc.utf8_lower(_take(ge, g2))), _take(ge, g1))
    roles = (["account_manager"] * n_am + ["sales_lead"] * n_team + ["executive"] * 2
             + ["admin"])
    user_team = np.concatenate([manager_team, np.arange(n_team), [-1, -1, -1]])
    w.tables["teams"] = {
        "team_id": team_ids, "name": pa.array(team_zh), "name_en": pa.array(team_en),
        "lead_id": lead_ids, "city": _take(names, team_city),
    }
    w.tables["users"] = {
        "user_id": user_ids,
        "name": _join(_take(sz, s_i), given_zh),
        "name_en": _join(_take(se, s_i), " ", given_en),
        "role": pa.array(roles),
        "team_id": team_ids.take(pa.array(user_team, mask=user_team < 0)),
        "email": _join(user_ids, "@zj-ge.example.cn"),
    }
    w.user_ids = user_ids
    w.n_am = n_am
    w.team_lead = n_am + np.arange(n_team)  # user index of each team's lead


# ---------------------------------------------------------------------------------------------
# Products and holdings
# ---------------------------------------------------------------------------------------------
_FAMILIES = tuple(schema.ENUMS["family"])


def _catalogue(ind_codes: list[str]) -> dict[str, Any]:
    """The product table's columns plus per-product arrays used to draw holdings."""
    cols = list(zip(*_PRODUCTS, strict=True))
    pid, name, name_en, fam, prov, func, inds, price, unit, wts = cols
    fit = np.array([[not s or code in s.split(";") for s in inds] for code in ind_codes])
    boost = np.ones((len(ind_codes), len(pid)))
    for j, f in enumerate(func):
        for code, b in _INDUSTRY_BOOST.get(f, {}).items():
            boost[ind_codes.index(code), j] = b
    with np.errstate(divide="ignore"):
        # log weight by (size, industry) x product; -inf where the product never fits
        logw = (np.log(np.array(wts, float).T)[:, None, :] + np.log(boost)[None, :, :]
                + np.where(fit, 0.0, -np.inf)[None, :, :])
    return {
        "table": {"product_id": list(pid), "name": list(name), "name_en": list(name_en),
                  "family": list(fam), "provider": list(prov), "function": list(func),
                  "industries": [s or None for s in inds], "list_price": list(price)},
        "pid": pa.array(pid), "provider": pa.array(prov),
        "family": np.array([_FAMILIES.index(f) for f in fam]),
        "ours": np.array([p == "ours" for p in prov]),
        "comp": np.array([int(p[1]) if p != "ours" else 0 for p in prov]),
        "func": list(func), "price": np.array(price), "unit": np.array(unit),
        "logw": logw.astype(np.float32),
    }


def _quantity(rng: np.random.Generator, unit: np.ndarray, employees: np.ndarray,
              sites: np.ndarray, size: np.ndarray) -> np.ndarray:
    m = len(unit)
    u = rng.random(m)
    e, s = employees.astype(float), sites.astype(float)
    q = np.ones(m)
    q = np.where(unit == "line", e * (0.15 + 0.55 * u), q)
    q = np.where(unit == "site", s * (0.4 + 0.6 * u), q)
    q = np.where(unit == "few", np.sqrt(s) * (0.3 + 0.7 * u), q)
    q = np.where(unit == "unit", np.exp(np.log(np.array([12.0, 4.0, 1.5])[size]) + 0.6
                                         * rng.standard_normal(m)), q)
    q = np.where(unit == "terminal", e * (0.05 + 0.35 * u), q)
    q = np.where(unit == "student", np.maximum(10, e * (8 + 7 * u)), q)
    q = np.where(unit == "camera", np.maximum(2, s * (3 + 9 * u)), q)
    return np.clip(np.round(q), 1, 200_000).astype(np.int64)


def _make_holdings(w: _World, rng: np.random.Generator) -> None:
    """Our products by a latent bundle depth, some competitors' products, a few ended ones."""
    a, n = w.a, w.n
    cat = w.cat = _catalogue(w.ind_codes)
    size, ind = a["size"].astype(np.int64), a["industry"].astype(np.int64)
    ours = np.flatnonzero(cat["ours"])
    comp = np.flatnonzero(~cat["ours"])
    lw = cat["logw"].reshape(-1, len(cat["pid"]))
    row = size * len(w.ind_codes) + ind
    # ours: depth 1-3 small, 2-6 medium, 4-10 large; more for engaged accounts
    p = _sigmoid(np.log(0.45 / 0.55) + 0.8 * a["engagement"])
    k = np.array([4, 2, 1])[size] + rng.binomial(np.array([6, 4, 2])[size], p)
    mask = _topk_mask(rng, lw[row][:, ours], k)
    acc_o, col_o = np.nonzero(mask)
    prod_o = ours[col_o]
    # competitors: more likely for large accounts and for the less engaged
    p0 = np.array([0.50, 0.32, 0.15])[size]
    has = rng.random(n) < _sigmoid(np.log(p0 / (1 - p0)) - 0.5 * a["engagement"])
    kc = np.where(has, 1 + rng.binomial(3, 0.3, n) + (size == 0), 0)
    pref = rng.integers(1, 3, n)  # the competitor an account mostly uses
    lwc = lw[row][:, comp] + np.where(cat["comp"][comp][None, :] == pref[:, None], np.log(4.0), 0)
    acc_c, col_c = np.nonzero(_topk_mask(rng, lwc.astype(np.float32), kc))
    prod_c = comp[col_c]
    # a few products of ours held before and given up
    ended = np.flatnonzero(rng.random(n) < 0.06)
    lwe = np.where(mask[ended], -np.inf, lw[row[ended]][:, ours])
    ok = np.isfinite(lwe).any(1)
    ended = ended[ok]
    prod_e = ours[_row_choice(rng, np.exp(lwe[ok] - np.nanmax(np.where(np.isfinite(lwe[ok]),
                                                                       lwe[ok], np.nan), 1,
                                                             keepdims=True)))]
    acc = np.concatenate([acc_o, acc_c, ended])
    prod = np.concatenate([prod_o, prod_c, prod_e])
    kind = np.concatenate([np.zeros(len(acc_o), np.int8), np.ones(len(acc_c), np.int8),
                           np.full(len(ended), 2, np.int8)])
    onboard = a["onboard"][acc]
    span = (w.as_of - onboard).astype(np.int64)
    frac = rng.beta(0.7, 2.5, len(acc))
    first = np.full(n, 1.0)
    np.minimum.at(first, acc_o, frac[: len(acc_o)])
    frac[: len(acc_o)] -= first[acc_o]  # the first product of ours starts at onboarding
    frac[kind == 1] = rng.beta(1.0, 1.5, int((kind == 1).sum()))
    start = onboard + np.floor(frac * span).astype(np.int64)
    end = np.full(len(acc), np.datetime64("NaT"), "datetime64[D]")
    e = kind == 2
    start[e] = onboard[e] + np.floor(rng.random(int(e.sum())) * np.maximum(span[e] - 60, 0)
                                     ).astype(np.int64)
    end[e] = _uniform_days(rng, start[e] + 30, np.full(int(e.sum()), w.as_of - 1))
    end[e] = np.minimum(end[e], w.as_of - 1)
    start[e] = np.minimum(start[e], end[e])
    qty = _quantity(rng, cat["unit"][prod], a["employees"][acc], a["sites"][acc], size[acc])
    disc = np.where(cat["ours"][prod],
                    np.clip(np.exp(rng.normal(-0.15, 0.15, len(acc))), 0.4, 1.2) * qty ** -0.04,
                    rng.uniform(0.6, 1.1, len(acc)))
    rev = np.round(cat["price"][prod] * qty * disc, 2)
    w.h = {"acc": acc, "prod": prod, "kind": kind, "qty": qty, "rev": rev, "start": start,
           "end": end}
    # per-account bundle facts (current holdings) used by the churn hazard
    cur_o = kind == 0
    fam = np.zeros((n, len(_FAMILIES)), bool)
    fam[acc[cur_o], cat["family"][prod[cur_o]]] = True
    cfam = np.zeros((n, len(_FAMILIES)), bool)
    cfam[acc[kind == 1], cat["family"][prod[kind == 1]]] = True
    cug = np.zeros(n, bool)
    cug[acc[cur_o & (prod == cat["func"].index("cug"))]] = True
    a["our_families"] = fam.sum(1)
    a["our_products"] = np.bincount(acc[cur_o], minlength=n)
    a["comp_families"] = cfam[:, :3].sum(1)
    a["cug"] = cug
    a["our_spend"] = np.bincount(acc[cur_o], weights=rev[cur_o], minlength=n)
    a["comp_pref"] = pref


# ---------------------------------------------------------------------------------------------
# Contracts and churn
# ---------------------------------------------------------------------------------------------
_CONTRACT_TYPES = tuple(schema.ENUMS["contract_type"])
_CHURN_REASONS = tuple(schema.ENUMS["churn_reason"])
_ANNUAL_CHURN = np.array([0.012, 0.04, 0.10])  # large, medium, small


def _make_contracts(w: _World, rng: np.random.Generator) -> None:
    """Bundle agreements (deep bundles), handset leases, bill subsidies, service agreements:
    one current (live or lapsed) contract per type held, sometimes its predecessor too."""
    a, n, cat = w.a, w.n, w.cat
    size = a["size"]
    lm = size < 2
    has_mobile = np.zeros(n, bool)
    h = w.h
    cur = h["kind"] == 0
    has_mobile[h["acc"][cur & (h["prod"] == cat["func"].index("mobile"))]] = True
    big_service = np.isin(np.array(cat["func"]), ["dia", "ipvpn", "cloud"]) | (
        cat["family"] == _FAMILIES.index("industry"))
    has_service = np.zeros(n, bool)
    has_service[h["acc"][cur & big_service[h["prod"]]]] = True
    p_bundle = np.where(lm, _sigmoid(-1.6 + 0.45 * (a["our_products"] - 4) + 0.5 * a["engagement"]),
                        0.02)
    probs = np.stack([p_bundle, 0.18 + 0.12 * has_mobile, np.full(n, 0.3),
                      np.where(has_service, 0.35, 0.04)], 1)
    terms = [([24, 36], [0.4, 0.6]), ([12, 24], [0.5, 0.5]), ([12, 24], [0.6, 0.4]),
             ([12, 24, 36], [0.4, 0.4, 0.2])]
    acc_l, typ_l, start_l, end_l, val_l = [], [], [], [], []
    for t in range(len(_CONTRACT_TYPES)):
        acc = np.flatnonzero(rng.random(n) < probs[:, t])
        m = len(acc)
        term = rng.choice(terms[t][0], m, p=terms[t][1]) * 30.44
        live = rng.random(m) < 0.8
        end = np.where(live, w.as_of + np.floor(rng.random(m) * term).astype(np.int64),
                       w.as_of - rng.integers(1, 540, m))
        start = end - term.astype(np.int64)
        prev = rng.random(m) < 0.5
        for acc_x, s, e in ((acc, start, end), (acc[prev], start[prev] - term[prev].astype(
                np.int64) - 1, start[prev] - 1)):
            ob = a["onboard"][acc_x]
            keep = e > ob + 30
            s = np.maximum(s, ob)[keep]
            e = e[keep]
            acc_x = acc_x[keep]
            months = (e - s).astype(np.int64) / 30.44
            spend = a["our_spend"][acc_x]
            k = len(acc_x)
            if t == 0:
                value = spend * months * rng.uniform(0.85, 1.0, k)
            elif t == 1:
                handsets = np.clip(a["employees"][acc_x] * rng.uniform(0.05, 0.2, k), 1, 500)
                value = np.round(handsets) * 2500.0
            elif t == 2:
                value = spend * months * rng.uniform(0.05, 0.15, k)
            else:
                value = spend * months * rng.uniform(0.2, 0.5, k)
            acc_l.append(acc_x)
            typ_l.append(np.full(k, t, np.int8))
            start_l.append(s)
            end_l.append(e)
            val_l.append(np.round(value, -2))
    w.k = {"acc": np.concatenate(acc_l), "type": np.concatenate(typ_l),
           "start": np.concatenate(start_l), "end": np.concatenate(end_l),
           "value": np.concatenate(val_l)}
    bundle = np.zeros(n, bool)
    bundle[w.k["acc"][w.k["type"] == 0]] = True
    a["bundle"] = bundle


def _make_churn(w: _World, rng: np.random.Generator) -> None:
    """Monthly hazard per account over the history and FUTURE_MONTHS after as_of: falls with
    our bundle depth, rises with competitor entanglement, an ending contract, payment stress
    and dissatisfaction. Draw one churn date at most per account."""
    a, n = w.a, w.n
    size = a["size"].astype(np.int64)
    n_m = HISTORY_MONTHS + FUTURE_MONTHS
    fam = a["our_families"].astype(np.float32)
    per_size = np.maximum(np.bincount(size, minlength=3), 1)
    fam_mean = np.bincount(size, weights=fam, minlength=3) / per_size
    lin = (-0.55 * (fam - fam_mean[size]) - 0.7 * a["bundle"] - 0.5 * a["cug"]
           + 0.5 * a["comp_families"] + 0.45 * a["dissatisfaction"] + 0.35 * a["stress"])
    hz = np.exp(lin).astype(np.float32)[:, None] * np.ones((1, n_m), np.float32)
    # an ending contract raises the hazard from 2 months before to 1 month after its end
    k = w.k
    end_m = w.month_index(k["end"])
    bump = np.zeros((n, n_m), bool)
    for off in (-2, -1, 0, 1):
        mm = end_m + off
        ok = (mm >= 0) & (mm < n_m)
        bump[k["acc"][ok], mm[ok]] = True
    hz *= np.where(bump, np.float32(2.5), np.float32(1.0))
    # no churn before the month after onboarding
    alive = np.arange(n_m)[None, :] > w.month_index(a["onboard"])[:, None]
    hz *= alive
    base = 1 - (1 - _ANNUAL_CHURN) ** (1 / 12)
    for s in range(3):
        rows = size == s
        tot = hz[rows].sum()
        if tot > 0:
            hz[rows] *= np.float32(base[s] * alive[rows].sum() / tot)
    np.minimum(hz, 0.5, out=hz)
    hit = rng.random((n, n_m), dtype=np.float32) < hz
    del hz, bump, alive
    churned = hit.any(1)
    m = np.where(churned, hit.argmax(1), -1)
    rows = np.flatnonzero(churned)
    mstart = w.month_starts[m[rows]]
    days_in = (mstart.astype("datetime64[M]") + 1).astype("datetime64[D]") - mstart
    churn = np.full(n, np.datetime64("NaT"), "datetime64[D]")
    day = np.floor(rng.random(len(rows)) * days_in.astype(np.int64)).astype(np.int64)
    churn[rows] = mstart + day
    # reasons
    cf = a["comp_families"][rows] > 0
    sz = size[rows]
    p = np.stack([np.where(cf, 0.55, 0.12), np.array([0.08, 0.18, 0.30])[sz],
                  0.10 + 0.08 * np.maximum(a["dissatisfaction"][rows], 0), np.full(len(rows), 0.08),
                  np.array([0.02, 0.05, 0.12])[sz], np.full(len(rows), 0.06)], 1)
    reason = np.full(n, -1, np.int8)
    reason[rows] = _row_choice(rng, p)
    # precursors: over the 1.5-4 months before the churn date, bills fall by 15-50%
    pre_days = np.zeros(n, np.int64)
    pre_days[rows] = rng.integers(45, 121, len(rows))
    drop = np.zeros(n)
    drop[rows] = rng.uniform(0.15, 0.5, len(rows))
    a.update(churn=churn, reason=reason, pre_start=churn - pre_days, drop=drop)
    # contracts signed after an account left never happened
    c = a["churn"][w.k["acc"]]
    keep = np.isnat(c) | (w.k["start"] <= c)
    w.k = {key: v[keep] for key, v in w.k.items()}


def _finish_holdings(w: _World, rng: np.random.Generator) -> None:
    """Churned accounts' holdings end at the churn date; newly held competitor products before
    churn (and, rarely, elsewhere) in the last months."""
    a, h, cat, n = w.a, w.h, w.cat, w.n
    # new competitor products: before churn (more when leaving for a competitor), rarely else
    churn = a["churn"]
    churner = ~np.isnat(churn)
    p = np.where(churner, np.where(a["reason"] == 0, 0.5, 0.15), 0.025)
    new = np.flatnonzero(rng.random(n) < p)
    comp = np.flatnonzero(~cat["ours"])
    row = a["size"][new].astype(np.int64) * len(w.ind_codes) + a["industry"][new]
    lw = cat["logw"].reshape(-1, len(cat["pid"]))[row][:, comp]
    lw = lw + np.where(cat["comp"][comp][None, :] == a["comp_pref"][new, None], np.log(4.0), 0)
    prod = comp[_row_choice(rng, np.exp(lw - lw.max(1, keepdims=True)))]
    c = churn[new]
    start = np.where(np.isnat(c), w.as_of - rng.integers(0, 60, len(new)),
                     c - rng.integers(20, 110, len(new)))
    late = start > w.as_of
    start[late] = w.as_of - rng.integers(0, 45, int(late.sum()))
    start = np.maximum(start, a["onboard"][new])
    qty = _quantity(rng, cat["unit"][prod], a["employees"][new], a["sites"][new],
                    a["size"][new].astype(np.int64))
    rev = np.round(cat["price"][prod] * qty * rng.uniform(0.5, 0.9, len(new)), 2)
    h = {"acc": np.concatenate([h["acc"], new]), "prod": np.concatenate([h["prod"], prod]),
         "kind": np.concatenate([h["kind"], np.full(len(new), 3, np.int8)]),
         "qty": np.concatenate([h["qty"], qty]), "rev": np.concatenate([h["rev"], rev]),
         "start": np.concatenate([h["start"], start]),
         "end": np.concatenate([h["end"], np.full(len(new), np.datetime64("NaT"),
                                                  "datetime64[D]")])}
    # accounts that left: everything ends at the churn date, starts squeezed before it
    c = churn[h["acc"]]
    gone = c <= w.as_of
    ob = a["onboard"][h["acc"][gone]]
    span_now = (w.as_of - ob).astype(np.float64)
    span_then = (c[gone] - ob).astype(np.float64)
    off = (h["start"][gone] - ob).astype(np.float64)
    squeezed = ob + np.floor(off * span_then / np.maximum(span_now, 1)).astype(np.int64)
    fresh = h["kind"][gone] == 3  # newly held before churn: keep its date
    h["start"][gone] = np.minimum(np.where(fresh, h["start"][gone], squeezed), c[gone])
    end = h["end"][gone]
    h["end"][gone] = np.where(np.isnat(end) | (end > c[gone]), c[gone], end)
    h["start"][gone] = np.minimum(h["start"][gone], h["end"][gone])
    # one row per (account, product, start)
    order = np.lexsort((h["start"], h["prod"], h["acc"]))
    h = {k: v[order] for k, v in h.items()}
    same = np.r_[False, (h["acc"][1:] == h["acc"][:-1]) & (h["prod"][1:] == h["prod"][:-1])
                 & (h["start"][1:] == h["start"][:-1])]
    w.h = {k: v[~same] for k, v in h.items()}


# ---------------------------------------------------------------------------------------------
# Monthly bills
# ---------------------------------------------------------------------------------------------
_ARREARS_P = np.array([0.002, 0.004, 0.01, 0.03, 0.08])  # per month, by credit AAA .. C


def _make_billing(w: _World, rng: np.random.Generator) -> None:
    """24 months ending with as_of's month: our holdings' revenue x noise, falling before a
    churn; a share unpaid (arrears), more for low credit ratings and before churn."""
    a, h, n = w.a, w.h, w.n
    nm = HISTORY_MONTHS
    ours = w.cat["ours"][h["prod"]] & (h["rev"] > 0)
    acc = h["acc"][ours]
    s = np.clip(w.month_index(h["start"][ours]), 0, nm)
    end = h["end"][ours]
    e = np.where(np.isnat(end), nm - 1, w.month_index(np.where(np.isnat(end), w.as_of, end)))
    keep = e >= s
    acc, s, e, rev = acc[keep], s[keep], e[keep], h["rev"][ours][keep]
    diff = np.bincount(acc * (nm + 1) + s, weights=rev, minlength=n * (nm + 1))
    diff -= np.bincount(acc * (nm + 1) + np.minimum(e + 1, nm), weights=rev, minlength=n * (nm + 1))
    base = np.cumsum(diff.reshape(n, nm + 1), axis=1)[:, :nm]
    del diff
    starts = w.month_starts[:nm]
    days_in = (w.month_starts[1: nm + 1] - starts).astype(np.float64)
    mid = starts + 14
    season = np.where(starts.astype("datetime64[M]").astype(np.int64) % 12 == 1, 0.94, 1.0)
    base *= season * (1 + 0.03 * (np.arange(nm) - (nm - 1)) / 12)
    # precursors of churn: bills fall over the weeks before the churn date (churners only)
    churn = a["churn"]
    ch = np.flatnonzero(~np.isnat(churn))
    c, pre = churn[ch], a["pre_start"][ch]
    prog = (mid[None, :] - pre[:, None]).astype(np.float64) / np.maximum(
        (c - pre).astype(np.float64), 1)[:, None]
    in_pre = prog >= 0
    base[ch] *= 1 - a["drop"][ch, None] * np.where(in_pre, np.clip(0.4 + prog, 0, 1), 0.0)
    cm = w.month_index(c)
    part = cm < nm
    base[ch[part], cm[part]] *= np.clip((c[part] - starts[cm[part]]).astype(np.float64)
                                        / days_in[cm[part]], 0.05, 1.0)
    pre_cell = np.zeros((n, nm), bool)
    pre_cell[ch] = in_pre
    del prog, in_pre
    # one bill per account and month from onboarding to the churn month
    first = np.maximum(w.month_index(a["onboard"]), 0)
    last = np.full(n, nm - 1)
    last[ch] = np.minimum(cm, nm - 1)
    months = np.arange(nm)[None, :]
    acc, m = np.nonzero((base > 0.005) & (months >= first[:, None]) & (months <= last[:, None]))
    billed = base[acc, m]
    del base
    billed *= np.exp(np.float32(0.06) * rng.standard_normal(len(acc), dtype=np.float32))
    np.round(billed, 2, out=billed)
    # arrears: more for low credit ratings and payment stress, and before churn
    q = (_ARREARS_P[a["credit"]] * np.exp(0.5 * a["stress"])).astype(np.float32)
    q_cell = q[acc] + np.float32(0.25) * pre_cell[acc, m]
    owe = np.flatnonzero(rng.random(len(acc), dtype=np.float32) < np.minimum(q_cell, 0.9))
    del q_cell, pre_cell
    arrears = np.zeros(len(acc))
    arrears[owe] = np.round(billed[owe] * rng.uniform(0.2, 1.0, len(owe)), 2)
    w.tables["billing_monthly"] = {
        "account_id": acc.astype(np.int32), "month": starts[m], "billed": billed,
        "paid": np.round(np.maximum(billed - arrears, 0.0), 2), "arrears": arrears,
    }


# ---------------------------------------------------------------------------------------------
# Member lines and their daily usage
# ---------------------------------------------------------------------------------------------
_LINES_PER_ACCOUNT = ((20, 80), (5, 30), (1, 6))  # large, medium, small


def _make_lines(w: _World, rng: np.random.Generator, n_line: int) -> None:
    """Member lines for ``n_line`` accounts: a random subset with every (size, industry)
    segment represented. Lines of churned accounts close at the churn date."""
    a, n = w.a, w.n
    stratum = a["size"].astype(np.int64) * len(w.ind_codes) + a["industry"]
    order = np.lexsort((rng.random(n), stratum))
    counts = np.bincount(stratum, minlength=3 * len(w.ind_codes))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - first[stratum[order]]
    key = np.where(rank == 0, -1.0, rank / np.maximum(counts[stratum], 1))
    chosen = np.sort(np.argsort(key, kind="stable")[:n_line])
    lo, hi = (np.array(v) for v in zip(*_LINES_PER_ACCOUNT, strict=True))
    sz = a["size"][chosen]
    k = rng.integers(lo[sz], hi[sz] + 1)
    acc = np.repeat(chosen, k)
    m = len(acc)
    onboard = a["onboard"][acc]
    churn = a["churn"][acc]
    gone = churn <= w.as_of
    horizon = np.where(gone, churn, w.as_of)
    span = (horizon - onboard).astype(np.int64)
    open_ = onboard + np.floor(rng.beta(0.6, 3.0, m) * span).astype(np.int64)
    close = np.full(m, np.datetime64("NaT"), "datetime64[D]")
    close[gone] = churn[gone]
    early = ~gone & (rng.random(m) < 0.04) & (open_ < w.as_of)
    close[early] = _uniform_days(rng, open_[early] + 1, np.full(int(early.sum()), w.as_of))
    w.lines = {"acc": acc, "mobile": rng.random(m) < 0.85, "open": open_, "close": close}
    w.tables["lines"] = {
        "line_id": _ids("L", m, 8), "account_id": acc,
        "line_type": pc.if_else(pa.array(w.lines["mobile"]), "mobile", "fixed"),
        "open_date": open_, "close_date": close,
    }


def _make_line_daily(w: _World, rng: np.random.Generator) -> None:
    """USAGE_DAYS days per open line up to as_of (or its closing): calls, SMS, spend, balance.
    Lines of accounts about to churn (or that churned within the window) show the early-warning
    patterns of DOMAIN.md section 4 in their last weeks; other lines only rarely."""
    ln, a = w.lines, w.a
    m = len(ln["acc"])
    day0 = w.as_of - (USAGE_DAYS - 1)
    first = np.maximum(ln["open"], day0)
    last = np.where(np.isnat(ln["close"]), w.as_of, ln["close"] - 1)
    last = np.minimum(last, w.as_of)
    cnt = np.maximum((last - first).astype(np.int64) + 1, 0)
    line = np.repeat(np.arange(m), cnt)
    offs = np.arange(len(line)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    day = first[line] + offs
    r = len(line)
    # per-line habits
    mobile = ln["mobile"]
    lam = np.clip(np.exp(rng.normal(np.log(np.where(mobile, 7.0, 6.0)), 0.5, m)), 3, 40)
    mu = np.where(mobile, np.clip(np.exp(rng.normal(np.log(2.5), 0.6, m)), 0.5, 20), 0.0)
    fee = np.where(mobile, rng.choice([38.0, 58.0, 88.0, 128.0, 188.0], m), 25.0) / 30
    bal_top = np.clip(np.exp(rng.normal(np.log(150), 0.6, m)), 30, 2000)
    period = rng.uniform(20, 45, m)
    phase = rng.random(m)
    weekend = (day.astype(np.int64) + 3) % 7 >= 5
    voice = rng.poisson(lam[line] * np.where(weekend, 0.5, 1.0))
    sms = rng.poisson(mu[line])
    vas = np.where(mobile[line] & (rng.random(r) < 0.25), np.round(rng.uniform(0.5, 6, r), 2), 0)
    fwd = (rng.random(r) < 0.002).astype(np.int64)
    t = (day - day0).astype(np.float64)
    balance = 8 + bal_top[line] * (1 - np.mod(t / period[line] + phase[line], 1.0))
    suspended = np.zeros(r, bool)
    scale = np.ones(r)
    # patterns: lines of accounts churning within the window or the next ~3 months
    churn = a["churn"][ln["acc"]]
    event = ~np.isnat(churn) & (churn > day0) & (churn <= w.as_of + 100)
    pat = event & (rng.random(m) < rng.uniform(0.3, 0.9, m))
    end = np.where(event, np.minimum(churn - 1, w.as_of), w.as_of)
    rel = (end[line] - day).astype(np.int64)  # days before the pattern's last day
    near = event & ((churn - w.as_of).astype(np.int64) <= 30)
    flags = {  # (probability on a pattern line, false-alarm rate on any other line)
        "drop": (0.7, 0.005), "silence": (0.45, 0.003), "forward": (0.35, 0.002),
        "lowbal": (0.4, 0.003), "suspend": (0.25, 0.0005),
    }
    on = {f: np.where(pat, rng.random(m) < pw, rng.random(m) < pf)
          for f, (pw, pf) in flags.items()}
    on["suspend"] &= ~event | near
    shift = np.where(pat, 0, rng.integers(0, 25, m))  # false alarms need not end at as_of
    run = rng.integers(3, 11, m)
    drop_days = rng.integers(14, 29, m)
    x = on["drop"][line] & (rel < drop_days[line])
    scale[x] = rng.uniform(0.2, 0.5, m)[line][x]
    voice = np.round(voice * scale).astype(np.int64)
    x = on["silence"][line] & (rel >= shift[line]) & (rel < shift[line] + run[line])
    voice[x] = 0
    sms[x] = np.maximum(sms[x], 1 + rng.poisson(1.5, int(x.sum())))
    x = on["forward"][line] & (rel >= shift[line]) & (rel < shift[line] + run[line])
    fwd[x] = 1 + rng.poisson(2.0, int(x.sum()))
    x = on["lowbal"][line] & (rel < rng.integers(1, 6, m)[line])
    balance[x] = rng.uniform(0, 4.9, int(x.sum()))
    x = on["suspend"][line] & (rel < rng.integers(1, 3, m)[line])
    suspended[x] = True
    voice[x] = 0
    sms[x] = 0
    vas = np.where(x, 0.0, vas)
    spend = np.round(np.where(x, 0.0, fee[line] * scale + 0.12 * voice + 0.1 * sms + vas), 2)
    w.tables["line_daily"] = {
        "line_id": w.tables["lines"]["line_id"].take(pa.array(line)), "day": day,
        "voice_out_calls": voice, "sms_out": sms.astype(np.int64), "vas_spend": vas,
        "spend": spend, "forwarded_offnet_calls": fwd, "balance": np.round(balance, 2),
        "self_suspended": suspended,
    }


# ---------------------------------------------------------------------------------------------
# Interactions, churn events and the final tables
# ---------------------------------------------------------------------------------------------
_NOTES = {
    "visit": "季度走访|方案交流|续约洽谈|新业务推介|高层拜访|需求调研",
    "call": "客户回访|账单咨询|故障跟进|业务咨询|续约提醒",
    "complaint": "网络质量|账单争议|装机延迟|资费疑问|服务响应慢",
    "escalated_complaint": "多次投诉未解决|向管局申诉|升级至分管领导|要求赔偿",
}
_KINDS = tuple(schema.ENUMS["interaction_kind"])


def _make_interactions(w: _World, rng: np.random.Generator) -> None:
    """Visits and calls by the owner (more for large accounts), complaints and escalations
    (more for dissatisfied accounts and in the months before a churn)."""
    a, n = w.a, w.n
    size = a["size"].astype(np.int64)
    lo = np.maximum(a["onboard"], w.month_starts[0])
    churn = a["churn"]
    hi = np.where(churn <= w.as_of, churn, w.as_of)
    months = np.maximum((hi - lo).astype(np.float64), 0) / 30.44
    eng = np.exp(0.3 * a["engagement"])
    upset = np.exp(0.6 * a["dissatisfaction"])
    visits = rng.poisson(np.array([0.8, 0.2, 0.03])[size] * months * eng)
    calls = rng.poisson(np.array([1.2, 0.4, 0.1])[size] * months * eng)
    compl = rng.poisson(np.array([0.05, 0.02, 0.008])[size] * months * upset)
    esc = rng.binomial(compl, 0.15)
    # before churn: complaints and escalations become frequent
    pre_lo = np.maximum(a["pre_start"], lo)
    pre_days = np.where(np.isnat(churn), 0, np.maximum((hi - pre_lo).astype(np.int64), 0))
    pre_c = rng.poisson(1.4 * pre_days / 90)
    pre_e = rng.binomial(pre_c, 0.4)
    kinds = [(visits, 0, lo, hi), (calls, 1, lo, hi), (compl - esc, 2, lo, hi), (esc, 3, lo, hi),
             (pre_c - pre_e, 2, pre_lo, hi), (pre_e, 3, pre_lo, hi)]
    acc = np.concatenate([np.repeat(np.arange(n), c) for c, _, _, _ in kinds])
    kind = np.concatenate([np.full(c.sum(), k, np.int8) for c, k, _, _ in kinds])
    d_lo = np.concatenate([np.repeat(x, c) for c, _, x, _ in kinds])
    d_hi = np.concatenate([np.repeat(y, c) for c, _, _, y in kinds])
    day = _uniform_days(rng, d_lo, d_hi)
    order = np.lexsort((kind, day, acc))
    acc, kind, day = acc[order], kind[order], day[order]
    owner = a["owner"][acc]
    lead = w.team_lead[a["team"][acc]]
    user = np.where(kind <= 1, owner, np.where(kind == 3, lead, -1))
    note_idx = np.zeros(len(acc), np.int64)
    note_vals, base = [], 0
    for k, code in enumerate(_KINDS):
        opts = _NOTES[code].split("|")
        sel = kind == k
        note_idx[sel] = base + rng.integers(0, len(opts), int(sel.sum()))
        note_vals += opts
        base += len(opts)
    w.tables["interactions"] = {
        "interaction_id": _ids("I", len(acc), 9), "account_id": acc, "date": day,
        "kind": _take(list(_KINDS), kind),
        "user_id": w.user_ids.take(pa.array(np.maximum(user, 0), mask=user < 0)),
        "note": _take(note_vals, note_idx),
    }


def _assemble(w: _World) -> dict[str, pd.DataFrame]:
    """Every fact table as a DataFrame: schema columns in schema order, schema dtypes."""
    a, h, k, n = w.a, w.h, w.k, w.n
    acc_ids = _ids("A", n, 7)
    ind = np.array(w.ind_codes)
    w.tables["competitors"] = {c: list(v) for c, v in
                               zip(("competitor_id", "name", "name_en"), zip(*_COMPETITORS,
                                                                             strict=True),
                                   strict=True)}
    w.tables["products"] = w.cat["table"]
    parent = a["parent"]
    w.tables["accounts"] = {
        "account_id": acc_ids, "name": a["name"], "name_en": a["name_en"],
        "industry": _take(list(ind), a["industry"]), "size_class": _take(list(_SIZES), a["size"]),
        "city": _take([c[0] for c in _CITIES], a["city"]),
        "district": _take(w.dist["pinyin"], a["district"]),
        "city_tier": np.array([c[2] for c in _CITIES])[a["city"]],
        "footprint": _take(list(_FOOTPRINTS), a["footprint"]),
        "admin_level": pa.array(np.array(_ADMIN_LEVELS, object)[np.maximum(a["admin"], 0)],
                                pa.string(), mask=a["admin"] < 0),
        "employees": a["employees"], "sites": a["sites"], "listed": a["listed"],
        "industry_leader": a["leader"], "annual_revenue": a["revenue"],
        "credit_rating": _take(list(_CREDITS), a["credit"]), "it_maturity": a["it"],
        "parent_account_id": acc_ids.take(pa.array(np.maximum(parent, 0), mask=parent < 0)),
        "owner_id": w.user_ids.take(pa.array(a["owner"])), "onboard_date": a["onboard"],
    }
    w.tables["holdings"] = {
        "account_id": h["acc"], "product_id": w.cat["pid"].take(pa.array(h["prod"])),
        "provider": w.cat["provider"].take(pa.array(h["prod"])), "quantity": h["qty"],
        "monthly_revenue": h["rev"], "start_date": h["start"], "end_date": h["end"],
    }
    order = np.lexsort((k["type"], k["start"], k["acc"]))
    w.tables["contracts"] = {
        "contract_id": _ids("K", len(order), 8), "account_id": k["acc"][order],
        "contract_type": _take(list(_CONTRACT_TYPES), k["type"][order]),
        "start_date": k["start"][order], "end_date": k["end"][order], "value": k["value"][order],
    }
    gone = np.flatnonzero(a["churn"] <= w.as_of)
    w.tables["churn_events"] = {
        "account_id": gone, "churn_date": a["churn"][gone],
        "reason": _take(list(_CHURN_REASONS), a["reason"][gone]),
    }
    out = {}
    for t in schema.FACT_TABLES:
        data = w.tables.pop(t.name)
        cols = {}
        for c in t.columns:
            v = data[c.name]
            if c.name in ("account_id", "parent_account_id") and isinstance(v, np.ndarray):
                v = acc_ids.take(pa.array(v))
            cols[c.name] = _series(v, c.dtype)
        del data
        out[t.name] = pd.DataFrame(cols, copy=False)
    return out


def _series(v: Any, dtype: str) -> pd.Series:
    if dtype == "str":
        if isinstance(v, (pa.Array, pa.ChunkedArray)):
            return v.to_pandas()
        return pd.Series(v, dtype=object)
    if dtype == "date":
        return pd.Series(np.asarray(v, "datetime64[D]").astype("datetime64[us]"), copy=False)
    np_type = {"int": np.int64, "float": np.float64, "bool": bool}[dtype]
    return pd.Series(np.asarray(v).astype(np_type, copy=False), copy=False)
