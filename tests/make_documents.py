"""Real test documents made with real tools, each returned with the text it must give back.

The tests and bench/ingest_formats.py both read these: every file is generated (reportlab with
its built-in CID font STSong-Light, python-docx, python-pptx, openpyxl, zipfile for the EPUB,
pypdfium2 and Pillow for the scanned page), so nothing binary is kept in the repository.
"""

from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

FONT = "STSong-Light"
PAGE_WIDTH, PAGE_HEIGHT = 595.0, 842.0  # A4 in points
MARGIN = 72.0
BODY_SIZE = 16.0
LEADING = 28.0
# LibreOffice leaves about a quarter em between Chinese and Latin runs; pdfium reads it as a space.
AUTOSPACE = 3.0
RUNNING_HEADER = "华南市人民政府办公室    2023年政府工作报告"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_SENTENCE = re.compile(r"[^。！？]+[。！？]|[^.!?]+[.!?](?=\s|$)")
SOFT_HYPHEN = "\u00ad"

TITLE = "2023年华南市政府工作报告"
# The report: headings and paragraphs, flowed over a full-width page 1, a two-column page 2 and
# full-width pages after. The soft hyphen marks where the English line is to break with a hyphen.
REPORT = [
    ("heading", "一、过去一年的工作回顾"),
    (
        "body",
        "过去一年，面对复杂严峻的外部环境，全市上下坚持稳中求进工作总基调，统筹发展和安全，"
        "经济运行持续回升向好。全市地区生产总值达到4127亿元，比上年增长5.2%，一般公共预算收入"
        "完成386亿元，城乡居民人均可支配收入分别增长4.8%和6.9%。",
    ),
    (
        "body",
        "我们把科技创新摆在发展全局的核心位置，新认定高新技术企业612家，研究与试验发展经费投入"
        "强度提高到3.1%。2024年起，市财政每年安排不少于20亿元设立科技创新专项资金，重点支持"
        "集成电路、生物医药和新能源汽车三大产业集群。",
    ),
    (
        "english",
        "After three rounds of public hearings, the committee reviewed the infor\u00admation provided by the city planning bureau and "
        "approved the new metro line plan in March. Construction of the first section will "
        "start next year and is expected to take four years to complete.",
    ),
    (
        "body",
        "民生保障持续加强，全年城镇新增就业9.6万人，城镇调查失业率控制在5%以内。新建和改扩建"
        "中小学、幼儿园四十所，新增学位三万六千个，基本医疗保险参保率稳定在百分之九十五以上，"
        "养老服务设施实现街道全覆盖，困难群众基本生活得到有效保障。",
    ),
    ("heading", "二、城乡建设与生态环境"),
    (
        "body",
        "城市更新行动扎实推进，完成老旧小区改造一百二十个，惠及居民四万三千户。新开通公交线路"
        "十八条，轨道交通二号线全线贯通运营，中心城区平均通勤时间缩短六分钟。",
    ),
    (
        "body",
        "生态环境质量持续改善，全年空气质量优良天数比例达到百分之九十二点五，细颗粒物平均浓度"
        "下降到每立方米二十八微克，主要河流断面水质全部达到三类以上标准。",
    ),
    (
        "body",
        "乡村振兴全面推进，粮食播种面积稳定在一百一十万亩，建成高标准农田八万亩，农村生活污水"
        "治理率提高到百分之七十八，新培育省级特色产业强镇五个，农村居民收入增速继续快于城镇居民。",
    ),
    (
        "body",
        "营商环境不断优化，企业开办时间压缩到一个工作日以内，政务服务事项网上可办率达到百分之"
        "九十八，新增市场主体十一万户，其中企业三万两千户，民营经济增加值占全市经济总量的一半以上。",
    ),
    (
        "body",
        "对外交流合作日益密切，新增国际友好城市三个，举办国际性会议和展会六十五场，入境游客人数"
        "恢复到疫情前的九成，港口集装箱吞吐量达到一千二百万标准箱。",
    ),
    (
        "body",
        "社会治理水平稳步提升，建成智慧社区二百个，一网统管平台接入城市运行数据一百六十类，"
        "安全生产形势总体平稳，群众安全感满意度连续五年保持在百分之九十五以上。",
    ),
    ("page break", ""),
    ("heading", "三、2024年主要任务"),
    (
        "body",
        "今年全市经济社会发展的主要预期目标是：地区生产总值增长5%左右，城镇新增就业九万人以上，"
        "居民收入增长和经济增长同步。全市将新建城市公园十二座，新增绿地面积三百公顷。",
    ),
    (
        "body",
        "我们将坚定不移推进高水平对外开放，办好第五届华南国际数字经济博览会，力争全年实际使用外资"
        "增长百分之十，外贸进出口总额突破三千亿元。",
    ),
]


@dataclass
class Made:
    """A generated file and what a reader must recover from it."""

    path: Path
    paragraphs: list[str]  # each must come out whole, in this order
    pages: dict[str, int] = field(default_factory=dict)  # sentence → the page it starts on
    extra: dict = field(default_factory=dict)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _runs(text: str) -> list[str]:
    """Pieces that are all Chinese or all not, so the autospace can go between them."""
    runs: list[str] = []
    for char in text:
        if runs and bool(CJK.match(char)) == bool(CJK.match(runs[-1][-1])):
            runs[-1] += char
        else:
            runs.append(char)
    # reportlab drops a one-character string set in a CID font: such a run joins its neighbour.
    merged: list[str] = []
    for run in runs:
        if merged and (len(run) == 1 or len(merged[-1]) == 1):
            merged[-1] += run
        else:
            merged.append(run)
    return merged


def _width(text: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    runs = _runs(text)
    return sum(stringWidth(r, FONT, size) for r in runs) + AUTOSPACE * (len(runs) - 1)


def _draw(canvas, text: str, x: float, y: float, size: float) -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    canvas.setFont(FONT, size)
    for run in _runs(text):
        canvas.drawString(x, y, run)
        x += stringWidth(run, FONT, size) + AUTOSPACE


def _tokens(text: str) -> list[str]:
    """Chinese characters one by one; Latin words whole, spaces on their own."""
    return re.findall(
        r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]| |[^ \u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]+",
        text,
    )


def wrap(text: str, width: float, size: float, indent: float = 0.0) -> list[str]:
    """Lines that fit `width`; a word with a soft hyphen that does not fit is broken there."""
    lines, line = [], ""
    room = width - indent
    for token in _tokens(text):
        candidate = line + token
        if _width(candidate.replace(SOFT_HYPHEN, ""), size) <= room or not line.strip():
            line = candidate
            continue
        if token == " ":
            lines.append(line)
            line, room = "", width
            continue
        if CJK.match(token) and token in "，。、；：！？）》」":
            line = candidate  # closing marks never start a line: they overhang
            continue
        if SOFT_HYPHEN in token:
            head, tail = token.split(SOFT_HYPHEN, 1)
            if _width(line + head + "-", size) <= room:
                lines.append(line + head + "-")
                line, room = tail, width
                continue
        lines.append(line.rstrip())
        line, room = token, width
    if line.strip():
        lines.append(line)
    return [ln.replace(SOFT_HYPHEN, "") for ln in lines]


def _after(text: str, plain_offset: int) -> str:
    """What follows `plain_offset` characters of the text, soft hyphens not counted."""
    seen = 0
    for position, char in enumerate(text):
        if seen == plain_offset:
            return text[position:].lstrip(SOFT_HYPHEN)
        seen += char != SOFT_HYPHEN
    return ""


def _frames(page: int) -> list[tuple[float, float]]:
    """(x, width) of each column on a page: page 2 of the report has two."""
    body = PAGE_WIDTH - 2 * MARGIN
    if page == 2:
        column = (body - 20) / 2
        return [(MARGIN, column), (MARGIN + column + 20, column)]
    return [(MARGIN, body)]


def make_report_pdf(
    path: Path,
    blocks: list[tuple[str, str]] = REPORT,
    two_columns: bool = True,
    title: str = TITLE,
    max_pages: int | None = None,
) -> Made:
    """A Chinese report: running header, "- n -" footer, a two-column page 2, a hyphenated
    English line break, paragraphs flowing across columns and pages with a first-line indent."""
    from reportlab.pdfgen import canvas as pdf_canvas

    _register_font()
    canvas = pdf_canvas.Canvas(str(path), pagesize=(PAGE_WIDTH, PAGE_HEIGHT))
    canvas.setTitle(title)
    top, bottom = PAGE_HEIGHT - MARGIN - 10, MARGIN + 20
    page, frame_index = 1, 0
    frames = _frames(1)
    y = top - 40
    pages: dict[str, int] = {}
    hyphenated = []

    def start_page() -> None:
        _draw(canvas, RUNNING_HEADER, MARGIN, PAGE_HEIGHT - MARGIN + 20, 9)

    def end_page() -> None:
        canvas.setFont(FONT, 10)
        canvas.drawCentredString(PAGE_WIDTH / 2, MARGIN - 30, f"- {page} -")
        canvas.showPage()

    drawn = [title]  # the paragraphs drawn whole, before max_pages ran out
    start_page()
    title_width = _width(title, 18)
    _draw(canvas, title, (PAGE_WIDTH - title_width) / 2, top, 18)
    for kind, text in blocks:
        if kind == "page break":
            y = bottom - 1
            frame_index = len(frames) - 1
            continue
        size = 14.0 if kind == "heading" else BODY_SIZE
        if kind == "heading":
            y -= 8  # a little air above a heading, as word processors leave
        plain = text.replace(SOFT_HYPHEN, "")
        starts, cursor = {}, 0
        for sentence in sentences(plain):
            cursor = plain.index(sentence, cursor)
            starts[cursor] = sentence
        cursor, rest, first = 0, text, True
        while rest:
            if y < bottom:
                frame_index += 1
                if frame_index >= len(frames) and page == max_pages:
                    break
                if frame_index >= len(frames):
                    end_page()
                    page += 1
                    frames = _frames(page) if two_columns else [(MARGIN, PAGE_WIDTH - 2 * MARGIN)]
                    frame_index = 0
                    start_page()
                y = top
            x, width = frames[frame_index]
            indent = 2 * BODY_SIZE if kind == "body" and first else 0.0
            # Wrapped again in each column, since the paragraph may change width as it flows.
            line = wrap(rest, width, size, indent)[0]
            hyphenated += [line] if line.endswith("-") else []
            content = (line[:-1] if line.endswith("-") else line).strip()
            begin = plain.index(content, cursor)
            cursor = begin + len(content)
            rest = _after(text, cursor).lstrip(" ")
            for offset, sentence in starts.items():
                if begin <= offset < cursor:
                    pages.setdefault(sentence, page)
            _draw(canvas, line.strip(), x + indent, y, size)
            first = False
            y -= LEADING if kind != "heading" else LEADING + 4
        if rest:
            break
        if text:
            drawn.append(plain)
    end_page()
    canvas.save()
    whole = {s for p in drawn for s in sentences(p)}
    pages = {s: n for s, n in pages.items() if s in whole}
    return Made(path, drawn, pages, {"pages": page, "hyphenated": hyphenated})


def long_report(pages: int) -> list[tuple[str, str]]:
    """Enough of the report, numbered section by section, to fill about `pages` pages."""
    blocks = []
    section = 0
    while len(blocks) < pages * 10:
        section += 1
        for kind, text in REPORT:
            if kind == "heading":
                blocks.append((kind, f"{text}（第{section}部分）"))
            elif kind == "body":
                blocks.append((kind, text.replace("全市", f"第{section}片区")))
    return blocks


def make_long_pdf(path: Path, pages: int) -> Made:
    """The report flowed over `pages` full-width pages, for speed and memory."""
    return make_report_pdf(path, long_report(pages), two_columns=False, max_pages=pages)


def make_docx(path: Path) -> Made:
    """Headings, paragraphs, a bulleted list, a table, a sentence split over bold and plain runs,
    a header and a footer."""
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "华南市统计局内部资料"
    document.sections[0].footer.paragraphs[0].text = "华南市统计局编印"
    document.add_heading("华南市统计公报", level=1)
    document.add_heading("一、综合", level=2)
    first = "初步核算，全年全市地区生产总值4127亿元，按不变价格计算，比上年增长5.2%。"
    document.add_paragraph(first)
    split = document.add_paragraph()
    split.add_run("第三产业增加值").bold = True
    split.add_run("占地区生产总值的比重为")
    split.add_run("百分之五十八点三").italic = True
    split.add_run("，比上年提高零点九个百分点。")
    items = ["新建五座污水处理厂。", "新增公共充电桩一万二千个。", "完成植树造林四万亩。"]
    for item in items:
        document.add_paragraph(item, style="List Bullet")
    document.add_heading("二、人口", level=2)
    population = "年末全市常住人口八百六十二万人，比上年末增加七万五千人，城镇化率为百分之七十四。"
    document.add_paragraph(population)
    table = document.add_table(rows=3, cols=3)
    for row, cells in enumerate(
        [
            ["指标", "2022年", "2023年"],
            ["GDP", "3923亿元", "4127亿元"],
            ["常住人口", "854万人", "862万人"],
        ]
    ):
        for column, value in enumerate(cells):
            table.cell(row, column).text = value
    after = "全年出生人口六万八千人，出生率为千分之七点九。"
    document.add_paragraph(after)
    document.save(str(path))
    split_text = "第三产业增加值占地区生产总值的比重为百分之五十八点三，比上年提高零点九个百分点。"
    return Made(
        path,
        ["华南市统计公报", first, split_text, *items, population, after],
        extra={
            "rows": [
                "指标：GDP，2022年：3923亿元，2023年：4127亿元",
                "指标：常住人口，2022年：854万人，2023年：862万人",
            ],
            "header": "华南市统计局内部资料",
            "section_of": {population: "华南市统计公报 > 二、人口"},
        },
    )


def make_pptx(path: Path) -> Made:
    """Three slides: a title slide, bullets with speaker notes, a table."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[0])
    slide.shapes.title.text = "华南市数字经济发展汇报"
    slide.placeholders[1].text = "市发展和改革委员会"
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "主要成效"
    body = slide.placeholders[1].text_frame
    body.text = "数字经济核心产业增加值达到九百亿元。"
    body.add_paragraph().text = "建成5G基站两万一千个。"
    notes = "讲解时强调：数据中心机架数量全省第二。"
    slide.notes_slide.notes_text_frame.text = notes
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "重点项目"
    table = slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for row, cells in enumerate(
        [["项目", "投资"], ["智算中心", "45亿元"], ["工业互联网平台", "12亿元"]]
    ):
        for column, value in enumerate(cells):
            table.cell(row, column).text = value
    deck.save(str(path))
    return Made(
        path,
        ["数字经济核心产业增加值达到九百亿元。", "建成5G基站两万一千个。", notes],
        pages={"建成5G基站两万一千个。": 2, notes: 2, "项目：智算中心，投资：45亿元": 3},
    )


ECONOMY = [
    ["指标", "2019", "2020", "2021"],
    ["GDP", "4127亿元", "4302亿元", "4590亿元"],
    ["常住人口", "845万人", "850万人", "854万人"],
    ["人均收入", 52000, 53800, 56100.5],
]


def make_xlsx(path: Path) -> Made:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "经济指标"
    for row in ECONOMY:
        sheet.append(row)
    other = book.create_sheet("说明")
    other.append(["项目", "内容"])
    other.append(["数据来源", "华南市统计局"])
    book.save(str(path))
    return Made(
        path,
        [
            "指标：GDP，2019：4127亿元，2020：4302亿元，2021：4590亿元",
            "指标：人均收入，2019：52000，2020：53800，2021：56100.5",
            "项目：数据来源，内容：华南市统计局",
        ],
        extra={
            "row_of": {"指标：GDP，2019：4127亿元，2020：4302亿元，2021：4590亿元": ("经济指标", 2)}
        },
    )


def make_csv(path: Path) -> Made:
    with path.open("w", encoding="gb18030", newline="") as handle:
        csv.writer(handle).writerows(ECONOMY[:3])
    return Made(path, ["指标：常住人口，2019：845万人，2020：850万人，2021：854万人"])


ARTICLE = [
    "华南市召开2024年优化营商环境大会，市委书记出席会议并讲话。",
    "会议指出，营商环境是城市的核心竞争力，要以企业感受为标准，持续深化放管服改革，推动"
    "政务服务从能办向好办转变。",
    "会议要求，各区各部门要聚焦企业全生命周期，打造市场化、法治化、国际化一流营商环境，"
    "为高质量发展提供有力支撑。",
    "会上，朱镕基经济管理学院与市政府签署了人才培养合作协议，双方将共建营商环境研究中心。",
]


def html_page(charset: str = "utf-8") -> str:
    """A news page as sites serve it: navigation, a sidebar, a cookie banner and a footer
    around the article."""
    paragraphs = "\n".join(f"<p>{p}</p>" for p in ARTICLE[1:])
    links = "".join(f'<li><a href="/n{i}.html">相关新闻标题第{i}条</a></li>' for i in range(1, 9))
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="{charset}"><title>华南市召开优化营商环境大会 - 华南新闻网</title></head>
<body>
<div id="cookie-banner" class="cookie-consent">本网站使用Cookie以改善您的浏览体验。继续浏览即表示您同意我们使用Cookie。<button>接受</button></div>
<header><nav><ul><li><a href="/">首页</a></li><li><a href="/news">新闻中心</a></li><li><a href="/gov">政务公开</a></li><li><a href="/service">办事服务</a></li></ul></nav></header>
<main><article>
<h1>华南市召开优化营商环境大会</h1>
<p class="meta">来源：华南日报　2024-03-05</p>
<p>{ARTICLE[0]}</p>
<h2>会议要求</h2>
{paragraphs}
</article></main>
<aside class="sidebar"><h3>热点推荐</h3><ul>{links}</ul></aside>
<footer><p>版权所有 华南新闻网 粤ICP备12345678号</p><p>联系我们 | 网站地图 | 隐私政策</p></footer>
</body></html>"""


BOILERPLATE = ["Cookie", "新闻中心", "热点推荐", "版权所有", "网站地图"]


def make_html(path: Path, charset: str = "utf-8") -> Made:
    """charset gb2312: the page is labelled so but holds a GBK-only character (镕), as many
    Chinese sites do."""
    encoding = "gbk" if charset == "gb2312" else charset
    path.write_bytes(html_page(charset).encode(encoding))
    return Made(path, list(ARTICLE), extra={"boilerplate": BOILERPLATE})


CHAPTERS = [
    (
        "第一章 山城",
        [
            "山城的清晨总是被雾气笼罩，江面上的轮渡一早就开始忙碌。",
            "老街的茶馆里，说书人讲着三国的故事，茶客们听得入神。",
        ],
    ),
    (
        "第二章 江岸",
        [
            "江岸新修的步道延伸了十二公里，傍晚时分散步的人络绎不绝。",
            "码头旧址改成了博物馆，展出百年来的航运文物。",
        ],
    ),
]


def make_epub(path: Path) -> Made:
    """An EPUB 3 built with zipfile; the spine lists the chapters in reverse of the manifest,
    so reading order must come from the spine."""
    container = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""
    manifest = "\n".join(
        f'<item id="c{i}" href="text/ch{i}.xhtml" media-type="application/xhtml+xml"/>'
        for i in reversed(range(1, len(CHAPTERS) + 1))
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(1, len(CHAPTERS) + 1))
    opf = f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>山城江岸记</dc:title><dc:identifier id="id">qa-test-1</dc:identifier><dc:language>zh</dc:language></metadata>
<manifest>{manifest}</manifest>
<spine>{spine}</spine>
</package>"""
    with zipfile.ZipFile(path, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        book.writestr("META-INF/container.xml", container)
        book.writestr("OEBPS/content.opf", opf)
        for i, (heading, paragraphs) in enumerate(CHAPTERS, start=1):
            body = "".join(f"<p>{p}</p>" for p in paragraphs)
            book.writestr(
                f"OEBPS/text/ch{i}.xhtml",
                f'<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                f"<head><title>{heading}</title></head><body><h1>{heading}</h1>{body}</body></html>",
            )
    return Made(
        path,
        [p for _, paragraphs in CHAPTERS for p in paragraphs],
        extra={"section_of": {CHAPTERS[1][1][0]: CHAPTERS[1][0]}, "title": "山城江岸记"},
    )


SCANNED = [
    "华南市二〇二三年度财政决算报告",
    "全市一般公共预算收入完成三百八十六亿元，增长百分之六点一，其中税收收入二百七十一亿元，"
    "占一般公共预算收入的比重为百分之七十点二。",
    "教育、科技、卫生健康等重点领域支出得到有力保障。",
    "政府债务风险总体可控，债务率保持在合理区间。",
]


# A scanned page needs glyphs drawn, which STSong-Light (a font reportlab names but never embeds)
# cannot give: the Debian package fonts-wqy-microhei does (.ci/run installs it).
SCAN_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def make_scanned(folder: Path, dpi: int = 200) -> tuple[Made, Made]:
    """A printed page as a scanner gives it: text drawn into a grey bitmap at `dpi`, saved as a
    PNG and as an image-only PDF (no text layer)."""
    from PIL import Image, ImageDraw, ImageFont

    scale = dpi / 72
    image = Image.new("L", (round(PAGE_WIDTH * scale), round(PAGE_HEIGHT * scale)), 255)
    draw = ImageDraw.Draw(image)
    y = 110 * scale
    width = (PAGE_WIDTH - 2 * MARGIN) * scale
    for n, paragraph in enumerate(SCANNED):
        size = (20.0 if n == 0 else 15.0) * scale
        font = ImageFont.truetype(str(SCAN_FONT), round(size))
        line = ""
        for char in paragraph + "\n":
            if char == "\n" or font.getlength(line + char) > width:
                draw.text((MARGIN * scale, y), line, font=font, fill=30)
                y += size * 1.6
                line = ""
            line += char.strip()
        y += size * 0.8
    png = folder / "scan.png"
    image.save(png)
    pdf = folder / "scan.pdf"
    image.convert("RGB").save(pdf, resolution=dpi)
    return Made(png, list(SCANNED)), Made(pdf, list(SCANNED), pages={SCANNED[2]: 1})


# Digits and Latin letters in another font than the Chinese, as Word sets them: its characters'
# boxes have another height at the same type size.
LATIN_FONT = "Helvetica"


def _draw_mixed(
    canvas, text: str, x: float, y: float, size: float, chinese_font: str = FONT
) -> None:
    """Chinese runs in `chinese_font`, the rest in LATIN_FONT."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    for run in _runs(text):
        font = chinese_font if CJK.search(run) else LATIN_FONT
        canvas.setFont(font, size)
        canvas.drawString(x, y, run)
        x += stringWidth(run, font, size)


# A research report's two columns, broken where Word broke them: after a number, a Latin token,
# inside a 《title》 and before a sum, each next line starting in the Latin font.
COLUMN_LEFT = [
    "目前公司电力采购单价已从2019年度的0.8元每kwh降低到2022年Q1",
    "季度的0.39元每kwh，成本优势明显。公司与壶关县签订了《壶关年产",
    "12000万千米金刚线项目投资协议书》，项目总投资约为35亿元人民币。",
    "本项目建设期为两年，预计2025年投产，全部达产后年产值约为",
]
COLUMN_RIGHT = [
    "18.5亿元。项目所需资金由公司自筹解决，不会对公司现金流造",
    "成重大影响。",
]


def make_columns_pdf(path: Path) -> Made:
    """One page of two columns whose sentences run across line ends and across the column
    break, every line but the last as long as the column (within a character). The Chinese is
    set in wqy-microhei, embedded, as a real report's font is (SCAN_FONT: the caller checks)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas as pdf_canvas

    if "WenQuanYi" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("WenQuanYi", str(SCAN_FONT), subfontIndex=0))
    canvas = pdf_canvas.Canvas(str(path), pagesize=(PAGE_WIDTH, PAGE_HEIGHT))
    size, leading, width = 10.5, 16.0, 280.0
    for x, lines in ((MARGIN, COLUMN_LEFT), (MARGIN + width + 20, COLUMN_RIGHT)):
        y = PAGE_HEIGHT - 2 * MARGIN
        for line in lines:
            _draw_mixed(canvas, line, x, y, size, "WenQuanYi")
            y -= leading
    canvas.showPage()
    canvas.save()
    text = "".join(COLUMN_LEFT + COLUMN_RIGHT)
    return Made(path, sentences(text))


# A research note's points: each opens with a bullet set smaller than its words, hanging left of
# the paragraph's lines, every line but a point's last as long as the column.
BULLETED = [
    [
        "事件：公司拟与壶关县人民政府签署《壶关年产12000万千米金刚线项目投资",
        "协议书》，项目一期计划建设年产4,000万千米金刚线产能，预计一期总投资额约",
        "6.66亿元；后续年产8,000万千米金刚线项目尚未具体约定。",
    ],
    [
        "依托壶关低成本电价提升金刚线盈利能力。目前公司电力采购单价从2019年的",
        "0.8元每kwh降低到2022年Q1的0.39元每kwh，壶关后续拓展有望进一步降低公司",
        "金刚线电价成本。",
    ],
]


def make_bulleted_pdf(path: Path) -> Made:
    """One column of bulleted points, as make_columns_pdf sets its lines (SCAN_FONT: the caller
    checks), each bullet a 5.5-point glyph 12 points left of its point's lines."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas as pdf_canvas

    if "WenQuanYi" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("WenQuanYi", str(SCAN_FONT), subfontIndex=0))
    canvas = pdf_canvas.Canvas(str(path), pagesize=(PAGE_WIDTH, PAGE_HEIGHT))
    size, leading = 10.5, 13.0
    y = PAGE_HEIGHT - 2 * MARGIN
    for point in BULLETED:
        canvas.setFont(LATIN_FONT, 5.5)
        canvas.drawString(MARGIN, y, "\u2022")
        for line in point:
            _draw_mixed(canvas, line, MARGIN + 12, y, size, "WenQuanYi")
            y -= leading
        y -= 12
    canvas.showPage()
    canvas.save()
    return Made(path, ["".join(point) for point in BULLETED])


TOURISM_CAPTION = "表1 2023年旅游主要指标"
TOURISM = [
    ["指标", "单位", "数值", "增长"],
    ["旅游总收入", "亿元", "876.71", "37.1%"],
    ["接待游客", "万人次", "5230.4", "25.6%"],
    ["过夜游客", "万人次", "1890.2", "18.3%"],
]
TOURISM_BEFORE = "全年旅游业强劲复苏，主要指标全面超过疫情前水平，详见下表。"
TOURISM_AFTER = "旅游业的复苏带动了住宿、餐饮和交通运输等相关行业的增长。"


def make_table_pdf(path: Path, ruled: bool = False) -> Made:
    """A page with a heading, a paragraph, a captioned table (ruled or only aligned), and a
    paragraph after it."""
    from reportlab.pdfgen import canvas as pdf_canvas

    _register_font()
    canvas = pdf_canvas.Canvas(str(path), pagesize=(PAGE_WIDTH, PAGE_HEIGHT))
    y = PAGE_HEIGHT - 2 * MARGIN
    _draw_mixed(canvas, "二、文化和旅游", MARGIN, y, 15)
    y -= 30
    _draw_mixed(canvas, TOURISM_BEFORE, MARGIN, y, 12)
    y -= 30
    _draw_mixed(canvas, TOURISM_CAPTION, MARGIN + 120, y, 12)
    y -= 24
    columns = [MARGIN, MARGIN + 120, MARGIN + 220, MARGIN + 320]
    for row in TOURISM:
        for x, cell in zip(columns, row, strict=True):
            _draw_mixed(canvas, cell, x + 6, y, 12)
        if ruled:
            canvas.line(MARGIN, y - 6, MARGIN + 420, y - 6)
        y -= 22
    y -= 10
    _draw_mixed(canvas, TOURISM_AFTER, MARGIN, y, 12)
    canvas.showPage()
    canvas.save()
    header = TOURISM[0]
    rows = ["，".join(f"{h}：{c}" for h, c in zip(header, row, strict=True)) for row in TOURISM[1:]]
    return Made(path, [TOURISM_BEFORE, TOURISM_AFTER], extra={"rows": rows})


# A cover page: every line centred, none of them a sentence.
COVER = [
    "金刚线行业深度报告",
    "分析师：张伟、李娜",
    "执业证书编号：S0010520050001",
    "发布日期：2022年5月12日",
]


def make_cover_pdf(path: Path) -> Made:
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas as pdf_canvas

    _register_font()
    canvas = pdf_canvas.Canvas(str(path), pagesize=(PAGE_WIDTH, PAGE_HEIGHT))
    y = PAGE_HEIGHT - 3 * MARGIN
    for line in COVER:
        natural = sum(
            stringWidth(run, FONT if CJK.search(run) else LATIN_FONT, 14) for run in _runs(line)
        )
        _draw_mixed(canvas, line, (PAGE_WIDTH - natural) / 2, y, 14)
        y -= 24
    canvas.showPage()
    canvas.save()
    return Made(path, list(COVER))


# A slide's table as decks set them: the Coremark range merged down the rows it applies to.
CHIPS = [
    ["类别", "芯片", "Coremark"],
    ["卫星机", "MCU", "200~400"],
    ["卫星机", "SoC", ""],
    ["地面站", "FPGA", "1000以上"],
]


def make_pptx_table(path: Path) -> Made:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "芯片性能对比"
    table = slide.shapes.add_table(4, 3, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate(CHIPS):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(1, 2).merge(table.cell(2, 2))
    deck.save(str(path))
    return Made(
        path,
        [],
        extra={
            "rows": [
                "类别：卫星机，芯片：MCU，Coremark：200~400",
                "类别：卫星机，芯片：SoC，Coremark：200~400",
                "类别：地面站，芯片：FPGA，Coremark：1000以上",
            ],
            "title": "芯片性能对比",
        },
    )
