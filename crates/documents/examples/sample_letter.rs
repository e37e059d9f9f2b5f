//! Writes a sample letter of each kind as PDF, to look at the layout and to make the picture
//! in `docs/images/opinion-letter.png`:
//!
//! ```text
//! cargo run -p caseledger-documents --example sample_letter -- /tmp/letters
//! pdftoppm -png -r 80 -singlefile /tmp/letters/opinion.pdf docs/images/opinion-letter
//! ```
//!
//! The office, the company and the people are invented.

use std::path::PathBuf;

use caseledger_documents::{
    Deadline, LetterDocument, LetterKind, PeriodStart, PeriodUnit, Typesetter,
};
use chrono::NaiveDate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".to_owned()));
    std::fs::create_dir_all(&out)?;
    let typesetter = Typesetter::new(None, None)?;
    for kind in LetterKind::ALL {
        let path = out.join(format!("{}.pdf", kind.as_str()));
        std::fs::write(&path, typesetter.render(&sample(kind))?)?;
        println!("{}", path.display());
    }
    Ok(())
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

/// A letter about unpaid overtime at an invented factory.
fn sample(kind: LetterKind) -> LetterDocument {
    let opinion = kind == LetterKind::Opinion;
    let employer = if opinion {
        "你单位"
    } else {
        "X市恒达精密制造有限公司"
    };
    let mut findings = vec![
        format!("2026年7月至10月，{employer}冲压车间、装配车间实行“做六休一”工作制，每日工作10小时，职工月平均加班时间达86小时，超过法定上限，且未支付加班工资。"),
        format!("截至2026年11月20日，{employer}有12名职工入职超过一个月仍未订立书面劳动合同。"),
    ];
    let (number, addressee, corrections, issued_on, deadline) = if opinion {
        (
            "X工劳监意〔2026〕3号",
            "X市恒达精密制造有限公司",
            vec![
                "自2026年7月起安排职工延长工作时间的，按照不低于工资的百分之一百五十支付加班工资，补足已拖欠部分。".to_owned(),
                "与未签订书面劳动合同的12名职工依法订立劳动合同，并依法支付二倍工资差额。".to_owned(),
                "建立健全工时和工资支付台账，按月向职工提供工资清单。".to_owned(),
            ],
            date(2026, 12, 4),
            Deadline::LastDay {
                date: date(2026, 12, 25),
                provisional: false,
            },
        )
    } else {
        findings.push("本会于2026年12月4日向该单位发出工会劳动法律监督意见书（X工劳监意〔2026〕3号），该单位逾期未整改，也未作书面答复。".to_owned());
        (
            "X工劳监建〔2027〕1号",
            "X市人力资源和社会保障局",
            vec![
                "依法对X市恒达精密制造有限公司拖欠加班工资、未订立书面劳动合同的行为立案调查。"
                    .to_owned(),
                "责令该单位限期支付拖欠的加班工资，并将处理结果告知本会。".to_owned(),
            ],
            date(2027, 1, 8),
            Deadline::Within {
                amount: 15,
                unit: PeriodUnit::WorkingDays,
                from: PeriodStart::Served,
            },
        )
    };
    LetterDocument {
        kind,
        number: number.to_owned(),
        office: "X市总工会".to_owned(),
        addressee: addressee.to_owned(),
        issued_on,
        case_reference: "X-2026-0042".to_owned(),
        findings,
        legal_basis: vec![
            "《中华人民共和国劳动法》第四十一条、第四十四条；".to_owned(),
            "《中华人民共和国劳动合同法》第十条、第八十二条。".to_owned(),
        ],
        corrections,
        deadline: Some(deadline),
        signature: vec!["X市总工会".to_owned()],
        contact: "联系人：王明，电话：0816-2345678".to_owned(),
        copies_to: vec![
            "X市人力资源和社会保障局".to_owned(),
            "X市劳动人事争议仲裁院".to_owned(),
        ],
    }
}
