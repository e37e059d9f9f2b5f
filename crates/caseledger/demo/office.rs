//! The demo office's fictional people, employers and places: an invented city (演示市, "Demo
//! City"), its federation of trade unions' staff, and the employers and complainants of its
//! cases — every one made up, deterministically, from a seeded generator.
//!
//! What makes them obviously fictional (and what the demo's test checks):
//! - every resident ID number starts with the address code `99`, which no province, region or
//!   municipality has in GB/T 2260 (they run from 11 to 82), so no real person holds one; each
//!   still passes the GB 11643-1999 check character, so the service accepts it;
//! - every unified social credit code carries the division `99xxxx` for the same reason, with a
//!   correct GB 32100-2015 check character;
//! - every phone number has the area code `000`, which no Chinese area has;
//! - every employer's name starts with the city's invented name, 演示.
//!
//! The check characters are computed by the domain's own checks (`caseledger_domain`), not a
//! copy of their formulas.

use caseledger_domain::{check_credit_code, check_resident_id, CreditCodeError, ResidentIdError};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::Rng as _;

/// The address-code prefix of every demo resident ID: no real division has it.
pub const FICTIONAL_ID_PREFIX: &str = "99";

/// The division-code prefix (positions 3–4) of every demo credit code: no real division has it.
pub const FICTIONAL_DIVISION_PREFIX: &str = "99";

/// The area code of every demo phone number: no Chinese area has it.
pub const FICTIONAL_AREA_CODE: &str = "000";

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];

const GIVEN_NAMES: &[&str] = &[
    "建国", "秀英", "桂兰", "志强", "海燕", "晓东", "春梅", "国强", "玉兰", "明辉", "丽娟", "卫东",
    "红霞", "永刚", "淑珍", "德华", "小红", "文斌", "金凤", "立新", "翠英", "振华", "雪梅", "宏伟",
    "美玲", "长江", "素芳", "光明", "亚琴", "家豪",
];

/// The districts and counties of the invented city.
pub const REGIONS: &[&str] = &[
    "演示市青山区",
    "演示市河西区",
    "演示市高新区",
    "演示市临江县",
    "演示市松林县",
];

/// An industry as the case records it, and how its employers' names end.
#[derive(Debug, Clone, Copy)]
pub struct Industry {
    /// The value of the case's `industry` field.
    pub code: &'static str,
    /// The end of an employer's name in this industry, e.g. 建材有限公司.
    pub name_ending: &'static str,
}

/// The industries of the city's employers.
pub const INDUSTRIES: &[Industry] = &[
    Industry {
        code: "building_materials",
        name_ending: "建材有限公司",
    },
    Industry {
        code: "construction",
        name_ending: "建筑工程有限公司",
    },
    Industry {
        code: "manufacturing",
        name_ending: "机械制造有限公司",
    },
    Industry {
        code: "electronics",
        name_ending: "电子科技有限公司",
    },
    Industry {
        code: "textiles",
        name_ending: "纺织有限公司",
    },
    Industry {
        code: "logistics",
        name_ending: "物流有限公司",
    },
    Industry {
        code: "catering",
        name_ending: "餐饮管理有限公司",
    },
    Industry {
        code: "mining",
        name_ending: "矿业有限公司",
    },
];

const EMPLOYER_STEMS: &[&str] = &[
    "青石",
    "恒远",
    "宏达",
    "金川",
    "瑞丰",
    "华茂",
    "鑫源",
    "长盛",
    "永泰",
    "博远",
    "兴隆",
    "东方红",
    "利民",
    "嘉和",
    "新桥",
    "龙腾",
    "锦程",
    "安康",
    "富源",
    "同心",
];

/// A person of the demo: a name, and for complainants their details.
#[derive(Debug, Clone)]
pub struct Person {
    /// Full name, e.g. 王建国.
    pub name: String,
}

/// A complainant's details, all fictional.
#[derive(Clone)]
pub struct Complainant {
    /// Full name.
    pub name: String,
    /// A phone number in the fictional area `000`.
    pub phone: String,
    /// A resident ID number in the fictional address range `99…`.
    pub id_number: String,
}

impl std::fmt::Debug for Complainant {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Fictional, but personal data all the same: kept out of debug output like real data.
        formatter.write_str("Complainant { <redacted> }")
    }
}

/// An employer of the demo.
#[derive(Debug, Clone)]
pub struct Employer {
    /// Its name, beginning with 演示.
    pub name: String,
    /// A valid unified social credit code in the fictional division range.
    pub credit_code: String,
    /// Its industry.
    pub industry: Industry,
    /// Where it is.
    pub region: &'static str,
}

/// Makes the demo's people and employers from one seeded generator.
#[derive(Debug)]
pub struct Registry {
    used_names: std::collections::BTreeSet<String>,
}

impl Registry {
    /// A registry that has handed out no name yet.
    pub fn new() -> Registry {
        Registry {
            used_names: std::collections::BTreeSet::new(),
        }
    }

    /// A person whose name no earlier person of this registry has.
    pub fn person(&mut self, rng: &mut StdRng) -> Person {
        loop {
            let name = format!(
                "{}{}",
                SURNAMES.choose(rng).unwrap_or(&"王"),
                GIVEN_NAMES.choose(rng).unwrap_or(&"建国")
            );
            if self.used_names.insert(name.clone()) {
                return Person { name };
            }
        }
    }

    /// A complainant: a fresh name, a fictional phone number and resident ID number, born
    /// between 1965 and 2003.
    pub fn complainant(&mut self, rng: &mut StdRng) -> Complainant {
        let Person { name } = self.person(rng);
        let phone = format!(
            "{FICTIONAL_AREA_CODE}-{:04}-{:04}",
            rng.gen_range(5550..5560),
            rng.gen_range(0..10_000)
        );
        let birth = NaiveDate::from_ymd_opt(1965, 1, 1).unwrap_or_default()
            + chrono::Days::new(rng.gen_range(0..14_000));
        let without_check = format!(
            "{FICTIONAL_ID_PREFIX}{:04}{}{:03}",
            rng.gen_range(100..10_000),
            birth.format("%Y%m%d"),
            rng.gen_range(1..1000)
        );
        Complainant {
            name,
            phone,
            id_number: with_resident_id_check(&without_check),
        }
    }

    /// The employers of the city: one per stem, in a deterministic industry and region.
    pub fn employers(&mut self, rng: &mut StdRng) -> Vec<Employer> {
        EMPLOYER_STEMS
            .iter()
            .enumerate()
            .map(|(index, stem)| {
                let industry = INDUSTRIES[index % INDUSTRIES.len()];
                let without_check = format!(
                    "91{FICTIONAL_DIVISION_PREFIX}{:04}{}",
                    rng.gen_range(0..10_000),
                    (0..9)
                        .map(|_| CREDIT_CODE_SUBJECT[rng.gen_range(0..CREDIT_CODE_SUBJECT.len())])
                        .collect::<String>()
                );
                Employer {
                    name: format!("演示{stem}{}", industry.name_ending),
                    credit_code: with_credit_code_check(&without_check),
                    industry,
                    region: REGIONS.choose(rng).copied().unwrap_or(REGIONS[0]),
                }
            })
            .collect()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

/// Characters a credit code's subject identifier may use (digits and the allowed capitals).
const CREDIT_CODE_SUBJECT: &[char] = &[
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J',
    'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'T', 'U', 'W', 'X', 'Y',
];

/// `seventeen` followed by the check character the domain's check expects.
fn with_resident_id_check(seventeen: &str) -> String {
    let today = chrono::Utc::now().date_naive();
    let candidate = format!("{seventeen}0");
    match check_resident_id(&candidate, today) {
        Err(ResidentIdError::CheckCharacter { expected, .. }) => format!("{seventeen}{expected}"),
        _ => candidate,
    }
}

/// `seventeen` followed by the check character the domain's check expects.
fn with_credit_code_check(seventeen: &str) -> String {
    let candidate = format!("{seventeen}0");
    match check_credit_code(&candidate) {
        Err(CreditCodeError::CheckCharacter { expected, .. }) => format!("{seventeen}{expected}"),
        _ => candidate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn every_generated_id_number_is_valid_and_in_the_fictional_range() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut registry = Registry::new();
        let today = chrono::Utc::now().date_naive();
        for _ in 0..500 {
            let complainant = registry.complainant(&mut rng);
            assert!(complainant.id_number.starts_with(FICTIONAL_ID_PREFIX));
            assert_eq!(
                check_resident_id(&complainant.id_number, today).as_deref(),
                Ok(complainant.id_number.as_str())
            );
            assert!(complainant.phone.starts_with("000-"));
        }
    }

    #[test]
    fn every_generated_credit_code_is_valid_and_in_the_fictional_division_range() {
        let mut rng = StdRng::seed_from_u64(7);
        let employers = Registry::new().employers(&mut rng);
        assert_eq!(employers.len(), EMPLOYER_STEMS.len());
        for employer in employers {
            assert_eq!(&employer.credit_code[2..4], FICTIONAL_DIVISION_PREFIX);
            assert_eq!(
                check_credit_code(&employer.credit_code).as_deref(),
                Ok(employer.credit_code.as_str())
            );
            assert!(employer.name.starts_with("演示"));
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_people() {
        let names = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut registry = Registry::new();
            (0..20)
                .map(|_| registry.complainant(&mut rng).id_number)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(1), names(1));
        assert_ne!(names(1), names(2));
    }
}
