//! Which metrics are weakest, and one plain suggestion for each.
//!
//! Each judged metric is compared with the seller's own baseline: the
//! median of her previous sessions (`docs/metrics.md`, "Weakest metrics").
//! Before she has any, with a fixed first-session reference instead. The
//! score is value ÷ baseline; the lowest scores are the weakest.

use serde::Serialize;

use super::metrics::Metrics;

/// Suggestion text in both of the client's languages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Words {
    pub vi: &'static str,
    pub en: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weakness {
    pub metric: &'static str,
    pub value: f64,
    pub baseline: f64,
    /// `previous` (her sessions' median) or `reference` (no sessions yet).
    pub baseline_kind: &'static str,
    pub suggestion: Words,
}

/// A judged metric: its name, the first-session reference, the advice.
struct Judged {
    metric: &'static str,
    reference: f64,
    suggestion: Words,
}

const JUDGED: &[Judged] = &[
    Judged {
        metric: "avg_view_secs",
        reference: 60.0,
        suggestion: Words {
            vi: "Người xem rời đi sớm: mở đầu bằng ưu đãi hấp dẫn nhất và nhắc lại sau mỗi vài phút.",
            en: "Viewers leave early: open with your best offer and repeat it every few minutes.",
        },
    },
    Judged {
        metric: "comment_rate",
        reference: 2.0,
        suggestion: Words {
            vi: "Ít bình luận: đặt câu hỏi cho người xem và gọi tên người vừa bình luận.",
            en: "Few comments: ask viewers questions and greet commenters by name.",
        },
    },
    Judged {
        metric: "answer_rate",
        reference: 0.8,
        suggestion: Words {
            vi: "Nhiều câu hỏi chưa được trả lời: chạm vào câu hỏi để trả lời ngay, hoặc nhờ người hỗ trợ.",
            en: "Many questions went unanswered: tap a question to answer it, or ask a moderator to help.",
        },
    },
    Judged {
        metric: "ctr",
        reference: 0.1,
        suggestion: Words {
            vi: "Ít người bấm xem sản phẩm: ghim sản phẩm khi đang giới thiệu và cầm sản phẩm gần camera.",
            en: "Few viewers open products: pin the product you are showing and hold it close to the camera.",
        },
    },
    Judged {
        metric: "ctor",
        reference: 0.1,
        suggestion: Words {
            vi: "Xem nhiều nhưng ít đặt: nói rõ giá, phí ship và mở flash sale có giới hạn thời gian.",
            en: "Many look but few order: state the price and shipping clearly and run a time-limited flash sale.",
        },
    },
    Judged {
        metric: "conversion",
        reference: 0.2,
        suggestion: Words {
            vi: "Ít người mua: tặng voucher cho người xem và hướng dẫn cách đặt hàng từng bước.",
            en: "Few buyers: drop a voucher and show how to order, step by step.",
        },
    },
    Judged {
        metric: "gpm_vnd",
        reference: 50_000.0,
        suggestion: Words {
            vi: "Doanh thu trên mỗi lượt xem thấp: giới thiệu combo hoặc sản phẩm giá trị cao hơn.",
            en: "Low sales per view: offer bundles or higher-value products.",
        },
    },
];

/// The three weakest of `metrics` against `baseline` (per metric, `None`
/// when she has no previous value).
pub fn weakest(metrics: &Metrics, baseline: impl Fn(&str) -> Option<f64>) -> Vec<Weakness> {
    let mut judged: Vec<(f64, Weakness)> = JUDGED
        .iter()
        .filter_map(|j| {
            let value = metrics.get(j.metric)?;
            let (base, kind) = match baseline(j.metric) {
                Some(b) if b > 0.0 => (b, "previous"),
                _ => (j.reference, "reference"),
            };
            let weakness = Weakness {
                metric: j.metric,
                value,
                baseline: base,
                baseline_kind: kind,
                suggestion: j.suggestion.clone(),
            };
            Some((value / base, weakness))
        })
        .filter(|(score, _)| *score < 1.0)
        .collect();
    judged.sort_by(|a, b| a.0.total_cmp(&b.0));
    judged.into_iter().take(3).map(|(_, w)| w).collect()
}
