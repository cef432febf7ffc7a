from embeddings.cleaning import clean_text, matching_form, question_language


def test_pinyin_gloss_after_characters_is_removed():
    assert clean_text("朱曉明率團(tuán)赴巴黎參加聯(lián)合國(guó)氣候變化大會(huì)") == (
        "朱曉明率團赴巴黎參加聯合國氣候變化大會"
    )


def test_tone_digit_and_neutral_tone_glosses_are_removed():
    assert clean_text("团(tuan2)结 我們(men)") == "团结 我們"


def test_real_brackets_are_kept():
    text = "記者(鄭辦 吳悠) 地區生產總值(GDP) 在(2020)年 選項(a) 對象(object)"
    assert clean_text(text) == text


def test_nfkc_folds_full_width_letters_but_keeps_chinese_punctuation():
    assert clean_text("ＡＢＣ１２３，你好！（注）") == "ABC123，你好！（注）"


def test_ascii_marks_inside_chinese_become_full_width_but_numbers_keep_theirs():
    assert clean_text("自11月30日起,聯合國 主持人:各位 1,000 12:30") == (
        "自11月30日起，聯合國 主持人：各位 1,000 12:30"
    )


def test_white_space_is_tidied_and_invisible_characters_dropped():
    assert clean_text("\ufeff 第一行  有\u200b空格 \r\n\r\n\r\n\r\n第二行\t\t ") == (
        "第一行 有空格\n\n第二行"
    )


def test_matching_form_folds_script_width_and_case():
    assert matching_form("鎮江") == matching_form("镇江") == "镇江"
    assert matching_form("ｂｅｉｊｉｎｇ") == matching_form("Beijing") == "beijing"
    assert matching_form("國聯鎮臺") == "国联镇台"


def test_question_language():
    assert question_language("鎮江在哪裡？") == "zh"
    assert question_language("Where is Zhenjiang?") == "en"
