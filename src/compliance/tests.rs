//! The embedded rules, rule by rule: what each flags and what it leaves
//! alone, with and without diacritics. (Each rule's own `examples` in the
//! rules file are checked too, whenever the file is compiled.)

use super::*;
use crate::protocol::{ComplianceSeverity, ComplianceSource};

fn checker() -> Checker {
    Checker::embedded()
}

/// The rule ids `text` trips, as a script.
fn rules_hit(text: &str) -> Vec<String> {
    checker()
        .check(text, Context::new(ComplianceSource::Script))
        .into_iter()
        .map(|h| h.rule_id)
        .collect()
}

fn trips(text: &str, rule: &str) -> bool {
    rules_hit(text).iter().any(|r| r == rule)
}

#[test]
fn the_embedded_rules_compile_and_keep_their_own_examples() {
    let checker = checker();
    assert_eq!(checker.version, 1);
    let file = RuleFile::parse(EMBEDDED_RULES).unwrap();
    assert!(file.rules.len() >= 9);
}

#[test]
fn a_hit_carries_the_words_as_written_its_place_citation_and_rewording() {
    let hits = checker().check(
        "Chào cả nhà!\nTrà này CHỮA KHỎI tiểu đường",
        Context::new(ComplianceSource::Chat),
    );
    assert_eq!(hits.len(), 1, "{hits:?}");
    let hit = &hits[0];
    assert_eq!(hit.rule_id, "disease_cure");
    assert_eq!(hit.severity, ComplianceSeverity::Serious);
    assert_eq!(hit.excerpt, "CHỮA KHỎI");
    assert_eq!((hit.line, hit.column), (2, 9));
    assert!(hit.citation.law.contains("Luật Quảng cáo"));
    assert!(!hit.suggestion.is_empty());
}

#[test]
fn hits_come_in_reading_order() {
    let ids = rules_hit("Trà ngon nhất, chữa khỏi mất ngủ, giảm 90% hôm nay");
    assert_eq!(ids, ["absolute_claim", "disease_cure", "discount_cap"]);
}

// --- absolute claims -------------------------------------------------------

#[test]
fn absolute_claims_are_flagged() {
    assert!(trips("Trà Tân Cương ngon nhất vùng", "absolute_claim"));
    assert!(trips("Hàng số 1 thị trường", "absolute_claim"));
    assert!(trips("loại trà duy nhất có chứng nhận", "absolute_claim"));
}

#[test]
fn nhat_that_claims_nothing_is_left_alone() {
    for text in [
        "Chị nhất định phải thử",
        "Nhất là khi pha nước 85 độ",
        "Cả nhà thống nhất nhé",
        "Ít nhất 2 ngày mới tới",
        "Em giao sớm nhất có thể",
        "Mẫu mới nhất của vụ xuân",
        "Bưu cục gần nhất",
    ] {
        assert!(!trips(text, "absolute_claim"), "{text}");
    }
}

#[test]
fn an_address_or_an_item_number_is_not_a_ranking() {
    assert!(!trips("Shop ở số 1 Phố Huế", "absolute_claim"));
    assert!(!trips("Kho ở số 1/23 Lương Ngọc Quyến", "absolute_claim"));
    assert!(!trips("Link số 1 nha cả nhà", "absolute_claim"));
}

#[test]
fn only_phrases_of_two_words_match_without_diacritics() {
    assert!(trips("tra nay tot nhat", "absolute_claim"));
    // "nhat" alone may be nhạt (bland) or nhặt (picked): never matched.
    assert!(!trips("tra hoi nhat", "absolute_claim"));
    assert!(!trips("Trà hơi nhạt", "absolute_claim"));
}

#[test]
fn text_typed_with_combining_marks_matches_like_precomposed_text() {
    // "nhất" as n h a + circumflex + acute.
    assert!(trips("Ngon nha\u{302}\u{301}t", "absolute_claim"));
}

// --- disease and weight-loss claims ------------------------------------------

#[test]
fn cure_claims_are_flagged_with_or_without_diacritics() {
    assert!(trips("Trà này chữa khỏi tiểu đường", "disease_cure"));
    assert!(trips("tra nay chua khoi tieu duong", "disease_cure"));
    assert!(trips("Uống là trị dứt điểm", "disease_cure"));
    assert!(trips("Thay thế thuốc huyết áp luôn", "disease_cure"));
}

#[test]
fn cure_words_with_other_diacritics_are_other_words() {
    assert!(!trips("Em cảm chưa khỏi", "disease_cure"));
    assert!(!trips("Sửa chữa ấm chén", "disease_cure"));
    // Half with, half without diacritics is ambiguous: not matched.
    assert!(!trips("chua khỏi", "disease_cure"));
}

#[test]
fn the_disclaimer_itself_is_not_a_cure_claim() {
    let disclaimer =
        "Thực phẩm này không phải là thuốc và không có tác dụng thay thế thuốc chữa bệnh";
    assert!(
        rules_hit(disclaimer).is_empty(),
        "{:?}",
        rules_hit(disclaimer)
    );
}

#[test]
fn weight_loss_claims_are_flagged_but_a_lighter_parcel_is_not() {
    assert!(trips("Trà giảm cân cấp tốc", "weight_loss"));
    assert!(trips("uong tra giam can", "weight_loss"));
    assert!(trips("1 tuần giảm 3 kg", "weight_loss"));
    assert!(!trips("Giảm cân nặng gói hàng cho rẻ ship", "weight_loss"));
    assert!(!trips("Túi 2kg giảm 50k", "weight_loss"));
}

// --- the supplement disclaimer ---------------------------------------------

#[test]
fn a_supplement_without_its_disclaimer_is_flagged_once() {
    let hits = checker().check(
        "Viên uống TPCN bổ gan. Thực phẩm chức năng chính hãng.",
        Context::new(ComplianceSource::Script),
    );
    let missing: Vec<_> = hits
        .iter()
        .filter(|h| h.rule_id == "supplement_disclaimer")
        .collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].excerpt, "Viên uống");
}

#[test]
fn a_supplement_with_its_disclaimer_passes() {
    let text = "TPCN bổ gan.\nThực phẩm này không phải là thuốc, không có tác dụng thay thế thuốc chữa bệnh.";
    assert!(!trips(text, "supplement_disclaimer"));
}

#[test]
fn the_disclaimer_is_not_asked_of_every_chat_message() {
    let hits = checker().check(
        "TPCN này bán chạy lắm",
        Context::new(ComplianceSource::Chat),
    );
    assert!(hits.iter().all(|h| h.rule_id != "supplement_disclaimer"));
}

// --- prices and discounts ----------------------------------------------------

#[test]
fn a_discount_over_half_is_flagged_and_half_is_not() {
    assert!(trips("Giảm 90% toàn bộ", "discount_cap"));
    assert!(trips("sale 51%", "discount_cap"));
    assert!(!trips("Giảm 50% cho đơn đầu", "discount_cap"));
    assert!(!trips("Độ ẩm 90%", "discount_cap"));
}

#[test]
fn an_original_price_is_held_against_the_products_price() {
    let product = |price| Context {
        source: ComplianceSource::Product,
        price_vnd: Some(price),
    };
    let flagged = |text: &str, price| {
        checker()
            .check(text, product(price))
            .iter()
            .any(|h| h.rule_id == "original_price")
    };
    // 500k → 99k is an 80 % discount: more than the law allows.
    assert!(flagged("Trà búp. Giá gốc 500k", 99_000));
    // An "original" price below the price is invented.
    assert!(flagged("Trà búp. Giá gốc 100.000đ", 150_000));
    assert!(!flagged("Trà búp. Giá gốc 200.000đ", 150_000));
    // Without any price there is nothing to compare with.
    assert!(!trips("Giá gốc 500k", "original_price"));
}

#[test]
fn clearance_claims_are_warnings() {
    let hits = checker().check("Xả kho lỗ vốn!", Context::new(ComplianceSource::Chat));
    assert_eq!(hits[0].rule_id, "clearance_claim");
    assert_eq!(hits[0].severity, ComplianceSeverity::Warning);
    assert!(!trips("Lô hàng mới về", "clearance_claim"));
}

// --- the livestream seller's duties ------------------------------------------

#[test]
fn pushing_buyers_off_the_platform_is_flagged() {
    assert!(trips("ib zalo em nha", "off_platform"));
    assert!(trips("Chuyển khoản riêng được giảm thêm", "off_platform"));
    assert!(trips("chuyen khoan rieng cho em", "off_platform"));
    assert!(!trips("Shop không giao dịch qua zalo", "off_platform"));
    assert!(!trips(
        "Thanh toán bằng mã VietQR trong đơn",
        "off_platform"
    ));
}

#[test]
fn a_prize_without_terms_is_flagged_and_with_terms_is_not() {
    assert!(trips("Tặng quà 10 đơn đầu", "prize_terms"));
    assert!(trips("minigame cuối phiên", "prize_terms"));
    assert!(!trips(
        "Tặng quà 10 đơn đầu, thể lệ ghim trên màn hình",
        "prize_terms"
    ));
}

// --- rules files ---------------------------------------------------------------

#[test]
fn a_rules_file_whose_rule_fails_its_own_example_is_refused() {
    let broken = EMBEDDED_RULES
        .replacen("'tốt nhất',", "", 1)
        .replacen("    'nhất',\n", "", 1);
    match RuleFile::parse(&broken).and_then(Checker::compile) {
        Err(RulesError::Example { rule, .. }) => assert_eq!(rule, "absolute_claim"),
        other => panic!("expected an example failure, got {other:?}"),
    }
}

#[test]
fn a_rules_file_with_an_unknown_field_or_a_bad_pattern_is_refused() {
    let unknown = EMBEDDED_RULES.replacen("version = 1", "version = 1\nverison = 2", 1);
    assert!(matches!(
        RuleFile::parse(&unknown),
        Err(RulesError::Parse(_))
    ));
    let bad = EMBEDDED_RULES.replacen("'tốt nhất',", "'tốt (nhất',", 1);
    assert!(matches!(
        RuleFile::parse(&bad).and_then(Checker::compile),
        Err(RulesError::Invalid { .. })
    ));
}

#[test]
fn a_configured_rules_file_replaces_the_embedded_one() {
    let dir = std::env::temp_dir().join(format!("chophien-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.toml");
    let only_one = EMBEDDED_RULES
        .split("\n# ---------------------------------------------------------------------------\n[[rule]]\nid = \"disease_cure\"")
        .next()
        .unwrap();
    std::fs::write(&path, only_one).unwrap();
    let config = ComplianceConfig {
        real_rooms: false,
        rules: path,
    };
    let checker = Checker::load(&config).unwrap();
    let hits = checker.check("chữa khỏi, ngon nhất", Context::new(ComplianceSource::Chat));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].rule_id, "absolute_claim");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_configured_rules_file_that_fails_its_examples_stops_the_configuration() {
    let dir = std::env::temp_dir().join(format!("chophien-badrules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, EMBEDDED_RULES.replacen("    'nhất',\n", "", 1)).unwrap();
    let config = dir.join("chophien.toml");
    std::fs::write(
        &config,
        format!("[compliance]\nrules = {:?}\n", rules.display().to_string()),
    )
    .unwrap();
    let error = crate::config::Config::load(Some(&config)).unwrap_err();
    assert!(error.to_string().contains("absolute_claim"), "{error}");
    std::fs::remove_dir_all(dir).ok();
}
