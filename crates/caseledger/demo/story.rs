//! The demo office's eighteen months: which cases come in, when, and what happens to each —
//! written as plain data (a [`Script`] per case, each a list of timed [`Action`]s) from one
//! seeded generator, and merged into one timeline in time order.
//!
//! Nothing here runs a command: `demo.rs` plays the timeline through the real service. Every
//! plot follows the domain's rules (a recommendation letter only after an unheeded opinion
//! letter; a case closed as rectified only once its opinion letter is answered), so every
//! action is accepted; steps that would fall after "now" are simply not reached yet, which
//! leaves the newest cases open, some with letters due soon and some overdue.

use caseledger_domain::{Category, LetterKind, Outcome, Source, Tier};
use chrono::{DateTime, Datelike as _, Duration, NaiveDate, TimeZone as _, Utc, Weekday};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::Rng as _;

use super::office::{Complainant, Employer, Registry};

/// How many cases the demo office handled over the period.
pub const CASES: usize = 200;

/// The period the demo covers, in days before "now".
pub const PERIOD_DAYS: i64 = 548;

/// The first day of the Spring Festival (春节) in the years a demo may cover: wage-arrears
/// complaints crowd into the weeks before it.
const SPRING_FESTIVALS: &[(i32, u32, u32)] = &[
    (2024, 2, 10),
    (2025, 1, 29),
    (2026, 2, 17),
    (2027, 2, 6),
    (2028, 1, 26),
    (2029, 2, 13),
    (2030, 2, 3),
];

/// Who acts in a step, besides the case's own officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The officer assigned to the case.
    Officer,
    /// A supervisor of the office.
    Supervisor,
    /// A partner department (by its configured name).
    Partner(&'static str),
    /// The service itself (the deadline watcher).
    System,
    /// The office's administrator.
    Admin,
}

/// One thing that happens to a case.
#[derive(Debug, Clone)]
pub enum Action {
    /// The case is opened.
    Open,
    /// The case's officer takes it.
    Assign,
    /// A finding of the investigation.
    Finding {
        summary: String,
        hazard: Option<String>,
    },
    /// A supervision letter, known to later steps by `label`.
    Letter {
        label: u8,
        kind: LetterKind,
        recipient: String,
        content: String,
        deadline: Option<DateTime<Utc>>,
        department: Option<&'static str>,
    },
    /// The answer to letter `label`.
    Answer {
        label: u8,
        rectified: bool,
        content: String,
    },
    /// Letter `label`'s deadline passed unanswered.
    DeadlineMissed { label: u8 },
    /// Escalation to a tier of the joint mechanism (its configured members).
    Escalate { tier: Tier, reason: String },
    /// A referral to a partner department.
    Refer {
        department: &'static str,
        reason: String,
    },
    /// A partner department's feedback.
    Feedback {
        content: String,
        outcome: Option<String>,
    },
    /// A note.
    Note { text: String },
    /// The case is closed.
    Close { outcome: Outcome, summary: String },
    /// A supervisor reopens the case.
    Reopen { reason: String },
    /// The complainant's personal data is erased.
    Erase,
}

/// One case of the demo: what it is about, and what happens to it when.
#[derive(Debug)]
pub struct Script {
    /// Short title.
    pub title: String,
    /// What it is about.
    pub category: Category,
    /// Full description.
    pub description: String,
    /// How it reached the union.
    pub source: Source,
    /// The employer.
    pub employer: Employer,
    /// Workers affected.
    pub workers_affected: u32,
    /// The complainant, for cases a worker brought.
    pub complainant: Option<Complainant>,
    /// Which of the office's officers handles it (an index).
    pub officer: usize,
    /// What happens, in time order.
    pub steps: Vec<(DateTime<Utc>, Actor, Action)>,
}

/// The course a case takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plot {
    /// The complaint proves unfounded.
    Unfounded,
    /// A reminder letter, then mediation by the union.
    ReminderThenMediated,
    /// An opinion letter the employer heeds.
    OpinionHeeded,
    /// An opinion letter ignored past its deadline, then a recommendation letter to the
    /// government department responsible.
    OpinionIgnoredThenRecommendation,
    /// An opinion letter refused, then the three-party tier and arbitration.
    ThreePartyArbitration,
    /// Up to the four-way tier, ending in court.
    FourWayLitigation,
    /// Up to the five-way tier with the procuratorate supporting the workers' suit.
    FiveWayLinkage,
    /// Referred to a partner department, which reports back.
    Referred,
    /// The workers withdraw the complaint.
    Withdrawn,
    /// Closed as rectified, reopened when the employer relapses, and closed again.
    Reopened,
}

/// How many of the [`CASES`] take each course.
const PLOTS: &[(Plot, usize)] = &[
    (Plot::Unfounded, 20),
    (Plot::ReminderThenMediated, 20),
    (Plot::OpinionHeeded, 56),
    (Plot::OpinionIgnoredThenRecommendation, 30),
    (Plot::ThreePartyArbitration, 20),
    (Plot::FourWayLitigation, 8),
    (Plot::FiveWayLinkage, 6),
    (Plot::Referred, 22),
    (Plot::Withdrawn, 12),
    (Plot::Reopened, 6),
];

/// How often each category comes in, in cases out of 100.
const CATEGORIES: &[(Category, u32)] = &[
    (Category::WageArrears, 30),
    (Category::OccupationalDisease, 10),
    (Category::SafetyHazard, 15),
    (Category::PpeShortfall, 15),
    (Category::WorkingHours, 10),
    (Category::LabourContract, 8),
    (Category::SocialInsurance, 7),
    (Category::CollectiveContract, 2),
    (Category::Other, 3),
];

/// The office's eighteen months up to `now`: [`CASES`] scripts, each already cut at `now`.
pub fn write(
    rng: &mut StdRng,
    registry: &mut Registry,
    officers: usize,
    now: DateTime<Utc>,
) -> Vec<Script> {
    let start = now - Duration::days(PERIOD_DAYS);
    let employers = registry.employers(rng);
    let mut plots: Vec<Plot> = PLOTS
        .iter()
        .flat_map(|(plot, count)| std::iter::repeat_n(*plot, *count))
        .collect();
    debug_assert_eq!(plots.len(), CASES);
    plots.shuffle(rng);
    // The office closes its older cases: the slow, escalating courses start early enough to
    // run their course, and the newest cases are the ones still open at `now`.
    let mut scripts: Vec<Script> = plots
        .into_iter()
        .enumerate()
        .map(|(index, plot)| {
            let category = pick_category(rng);
            let opened_at = opening_time(rng, category, plot, start, now);
            let employer = employers[rng.gen_range(0..employers.len())].clone();
            let complainant = (!matches!(plot, Plot::Referred) || rng.gen_bool(0.5))
                .then(|| registry.complainant(rng))
                .filter(|_| rng.gen_bool(0.7));
            let workers_affected = match category {
                Category::WageArrears => rng.gen_range(8..160),
                Category::CollectiveContract => rng.gen_range(100..900),
                _ => rng.gen_range(1..60),
            };
            let theme = Theme::of(category, &employer.name, workers_affected);
            let source = match (&complainant, rng.gen_range(0..4)) {
                (None, _) => Source::Inspection,
                (Some(_), 0) => Source::Hotline,
                (Some(_), 1) => Source::WalkIn,
                (Some(_), 2) => Source::Online,
                (Some(_), _) => Source::Referral,
            };
            let mut steps = Vec::new();
            plot_steps(rng, plot, &theme, &employer, opened_at, &mut steps);
            Script {
                title: theme.title.clone(),
                category,
                description: theme.description.clone(),
                source,
                employer,
                workers_affected,
                complainant,
                officer: index % officers.max(1),
                steps,
            }
        })
        .collect();
    // One worker asks, after the case is over, that their details be deleted.
    if let Some(script) = scripts.iter_mut().find(|script| {
        script.complainant.is_some()
            && matches!(script.steps.last(), Some((_, _, Action::Close { .. })))
            && script
                .steps
                .last()
                .is_some_and(|(at, _, _)| *at < now - Duration::days(60))
    }) {
        let closed_at = script.steps.last().map(|(at, _, _)| *at).unwrap_or(now);
        let asked = working_time(rng, closed_at, 20, 40);
        script.steps.push((
            asked,
            Actor::Officer,
            Action::Note {
                text: "当事职工书面申请删除其个人信息，经审核同意。".into(),
            },
        ));
        script
            .steps
            .push((asked + Duration::hours(1), Actor::Admin, Action::Erase));
    }
    for script in &mut scripts {
        script.steps.retain(|(at, _, _)| *at <= now);
    }
    scripts
}

fn pick_category(rng: &mut StdRng) -> Category {
    let total: u32 = CATEGORIES.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.gen_range(0..total);
    for (category, weight) in CATEGORIES {
        if roll < *weight {
            return *category;
        }
        roll -= weight;
    }
    Category::Other
}

/// When a case comes in: wage arrears crowd into the ten weeks before the Spring Festival;
/// the long escalating courses begin in the first year so that they run their course.
fn opening_time(
    rng: &mut StdRng,
    category: Category,
    plot: Plot,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let long = matches!(
        plot,
        Plot::FourWayLitigation | Plot::FiveWayLinkage | Plot::Reopened
    );
    let latest = if long {
        now - Duration::days(200)
    } else {
        now - Duration::days(1)
    };
    if category == Category::WageArrears && rng.gen_bool(0.5) {
        let festivals: Vec<DateTime<Utc>> = SPRING_FESTIVALS
            .iter()
            .filter_map(|(year, month, day)| NaiveDate::from_ymd_opt(*year, *month, *day))
            .filter_map(|day| day.and_hms_opt(0, 0, 0))
            .map(|day| Utc.from_utc_datetime(&day))
            .filter(|festival| *festival - Duration::days(70) >= start && *festival <= latest)
            .collect();
        if let Some(festival) = festivals.choose(rng) {
            return working_time(rng, *festival - Duration::days(70), 0, 68);
        }
    }
    // About one case in eight came in during the last six weeks: the office's open work.
    if !long && rng.gen_bool(0.12) {
        return working_time(rng, now - Duration::days(45), 0, 43);
    }
    let span = (latest - start).num_days().max(1);
    working_time(rng, start, 0, span)
}

/// A moment in office hours (09:00–17:00 in Beijing, 01:00–09:00 UTC) on a weekday, between
/// `min_days` and `max_days` days after `after`, and always after it.
fn working_time(
    rng: &mut StdRng,
    after: DateTime<Utc>,
    min_days: i64,
    max_days: i64,
) -> DateTime<Utc> {
    let mut day =
        (after + Duration::days(rng.gen_range(min_days..=max_days.max(min_days)))).date_naive();
    loop {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            let at = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
                + Duration::minutes(rng.gen_range(60..540));
            if at > after {
                return at;
            }
        }
        day = day.succ_opt().unwrap_or(day);
    }
}

/// A case's clock while its steps are written: each step comes some working days after the
/// one before.
#[derive(Debug)]
struct Pace {
    at: DateTime<Utc>,
}

impl Pace {
    /// A moment between `min` and `max` days after the last step (see [`working_time`]).
    fn next(&mut self, rng: &mut StdRng, min: i64, max: i64) -> DateTime<Utc> {
        self.at = working_time(rng, self.at, min, max);
        self.at
    }

    /// The next step happens at `at`.
    fn jump_to(&mut self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.at = at;
        at
    }
}

/// The end of office hours `days` days after `from`: a letter's deadline.
fn deadline_after(from: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let day = (from + Duration::days(days)).date_naive();
    Utc.from_utc_datetime(&day.and_hms_opt(9, 30, 0).unwrap_or_default())
}

fn plot_steps(
    rng: &mut StdRng,
    plot: Plot,
    theme: &Theme,
    employer: &Employer,
    opened_at: DateTime<Utc>,
    steps: &mut Vec<(DateTime<Utc>, Actor, Action)>,
) {
    let mut pace = Pace { at: opened_at };
    let mut push =
        |at: DateTime<Utc>, actor: Actor, action: Action| steps.push((at, actor, action));
    push(opened_at, Actor::Officer, Action::Open);
    push(pace.next(rng, 0, 2), Actor::Officer, Action::Assign);
    let finding = |theme: &Theme| Action::Finding {
        summary: theme.finding.clone(),
        hazard: theme.hazard.clone(),
    };
    let opinion = |label: u8, issued: DateTime<Utc>, theme: &Theme| Action::Letter {
        label,
        kind: LetterKind::Opinion,
        recipient: employer.name.clone(),
        content: theme.opinion.clone(),
        deadline: Some(deadline_after(issued, 21)),
        department: None,
    };
    match plot {
        Plot::Unfounded => {
            push(
                pace.next(rng, 3, 10),
                Actor::Officer,
                Action::Finding {
                    summary: format!(
                        "经实地核查并调阅{}的相关台账，投诉反映的问题不属实。",
                        employer.name
                    ),
                    hazard: None,
                },
            );
            push(
                pace.next(rng, 1, 3),
                Actor::Officer,
                Action::Close {
                    outcome: Outcome::Unfounded,
                    summary: "经核查投诉不属实，已向反映人说明情况。".into(),
                },
            );
        }
        Plot::ReminderThenMediated => {
            push(
                pace.next(rng, 1, 4),
                Actor::Officer,
                Action::Letter {
                    label: 0,
                    kind: LetterKind::Reminder,
                    recipient: employer.name.clone(),
                    content: theme.reminder.clone(),
                    deadline: None,
                    department: None,
                },
            );
            push(pace.next(rng, 4, 10), Actor::Officer, finding(theme));
            push(
                pace.next(rng, 1, 5),
                Actor::Officer,
                Action::Note {
                    text: "组织企业与职工代表面谈，双方同意由工会主持调解。".into(),
                },
            );
            push(
                pace.next(rng, 3, 10),
                Actor::Officer,
                Action::Close {
                    outcome: Outcome::Mediated,
                    summary: "经工会调解，双方达成一致并签订调解协议。".into(),
                },
            );
        }
        Plot::OpinionHeeded | Plot::Reopened => {
            push(pace.next(rng, 3, 8), Actor::Officer, finding(theme));
            let issued = pace.next(rng, 1, 3);
            push(issued, Actor::Officer, opinion(0, issued, theme));
            push(
                pace.next(rng, 5, 15),
                Actor::Officer,
                Action::Answer {
                    label: 0,
                    rectified: true,
                    content: theme.rectified.clone(),
                },
            );
            if rng.gen_bool(0.3) {
                push(
                    pace.next(rng, 1, 3),
                    Actor::Officer,
                    Action::Note {
                        text: "回访现场，职工确认问题已解决。".into(),
                    },
                );
            }
            push(
                pace.next(rng, 2, 6),
                Actor::Officer,
                Action::Close {
                    outcome: Outcome::Rectified,
                    summary: "企业已按意见书整改到位。".into(),
                },
            );
            if plot == Plot::Reopened {
                push(
                    pace.next(rng, 20, 45),
                    Actor::Supervisor,
                    Action::Reopen {
                        reason: "职工再次反映，企业整改后问题复发。".into(),
                    },
                );
                let issued = pace.next(rng, 2, 5);
                push(issued, Actor::Officer, opinion(1, issued, theme));
                push(
                    pace.next(rng, 5, 15),
                    Actor::Officer,
                    Action::Answer {
                        label: 1,
                        rectified: true,
                        content: "企业已再次整改，并建立长效机制。".into(),
                    },
                );
                push(
                    pace.next(rng, 2, 6),
                    Actor::Officer,
                    Action::Close {
                        outcome: Outcome::Rectified,
                        summary: "复发问题已整改，转入定期回访。".into(),
                    },
                );
            }
        }
        Plot::OpinionIgnoredThenRecommendation => {
            push(pace.next(rng, 3, 8), Actor::Officer, finding(theme));
            let issued = pace.next(rng, 1, 3);
            let deadline = deadline_after(issued, 21);
            push(issued, Actor::Officer, opinion(0, issued, theme));
            let missed = pace.jump_to(deadline + Duration::minutes(rng.gen_range(1..30)));
            push(missed, Actor::System, Action::DeadlineMissed { label: 0 });
            let recommended = pace.next(rng, 2, 6);
            push(
                recommended,
                Actor::Officer,
                Action::Letter {
                    label: 1,
                    kind: LetterKind::Recommendation,
                    recipient: department_title(theme.department).into(),
                    content: format!(
                        "{}收到我会意见书后逾期未整改。建议贵局依法查处，并将处理结果函告我会。",
                        employer.name
                    ),
                    deadline: Some(deadline_after(recommended, 60)),
                    department: Some(theme.department),
                },
            );
            push(
                pace.next(rng, 10, 30),
                Actor::Partner(theme.department),
                Action::Feedback {
                    content: "已立案调查，责令企业限期改正。".into(),
                    outcome: Some("责令改正".into()),
                },
            );
            push(
                pace.next(rng, 0, 2),
                Actor::Officer,
                Action::Answer {
                    label: 1,
                    rectified: true,
                    content: "主管部门复函：已责令企业改正。".into(),
                },
            );
            if rng.gen_bool(0.5) {
                push(
                    pace.next(rng, 3, 10),
                    Actor::Officer,
                    Action::Answer {
                        label: 0,
                        rectified: true,
                        content: "企业在主管部门督促下逾期完成整改。".into(),
                    },
                );
                push(
                    pace.next(rng, 1, 5),
                    Actor::Officer,
                    Action::Close {
                        outcome: Outcome::Rectified,
                        summary: "经主管部门查处，企业已整改。".into(),
                    },
                );
            } else {
                push(
                    pace.next(rng, 3, 10),
                    Actor::Officer,
                    Action::Close {
                        outcome: Outcome::Referred,
                        summary: "已移交主管部门依法处理。".into(),
                    },
                );
            }
        }
        Plot::ThreePartyArbitration | Plot::FourWayLitigation | Plot::FiveWayLinkage => {
            push(pace.next(rng, 3, 8), Actor::Officer, finding(theme));
            let issued = pace.next(rng, 1, 3);
            push(issued, Actor::Officer, opinion(0, issued, theme));
            push(
                pace.next(rng, 5, 15),
                Actor::Officer,
                Action::Answer {
                    label: 0,
                    rectified: false,
                    content: "企业复函称经营困难，暂无法整改。".into(),
                },
            );
            push(
                pace.next(rng, 2, 6),
                Actor::Supervisor,
                Action::Escalate {
                    tier: Tier::ThreeParty,
                    reason: "企业拒不整改，启动三方驻会机制。".into(),
                },
            );
            push(
                pace.next(rng, 10, 30),
                Actor::Partner("arbitration"),
                Action::Feedback {
                    content: "劳动人事争议仲裁院已受理，裁决企业支付相关款项。".into(),
                    outcome: Some("仲裁裁决".into()),
                },
            );
            if plot == Plot::ThreePartyArbitration {
                push(
                    pace.next(rng, 3, 10),
                    Actor::Officer,
                    Action::Close {
                        outcome: Outcome::Arbitration,
                        summary: "仲裁裁决已生效，企业已履行。".into(),
                    },
                );
                return;
            }
            push(
                pace.next(rng, 10, 20),
                Actor::Supervisor,
                Action::Escalate {
                    tier: Tier::FourWay,
                    reason: "企业不履行仲裁裁决，提请四方协作。".into(),
                },
            );
            push(
                pace.next(rng, 15, 40),
                Actor::Partner("court"),
                Action::Feedback {
                    content: "人民法院已立案并依法审理。".into(),
                    outcome: Some("已立案".into()),
                },
            );
            if plot == Plot::FiveWayLinkage {
                push(
                    pace.next(rng, 10, 20),
                    Actor::Supervisor,
                    Action::Escalate {
                        tier: Tier::FiveWay,
                        reason: "涉及职工人数多，提请五方联动，检察机关支持起诉。".into(),
                    },
                );
                push(
                    pace.next(rng, 15, 40),
                    Actor::Partner("procuratorate"),
                    Action::Feedback {
                        content: "人民检察院已出具支持起诉意见书。".into(),
                        outcome: Some("支持起诉".into()),
                    },
                );
            }
            push(
                pace.next(rng, 20, 60),
                Actor::Officer,
                Action::Close {
                    outcome: Outcome::Litigation,
                    summary: "人民法院判决已生效，职工权益得到保障。".into(),
                },
            );
        }
        Plot::Referred => {
            push(pace.next(rng, 2, 6), Actor::Officer, finding(theme));
            push(
                pace.next(rng, 1, 3),
                Actor::Officer,
                Action::Refer {
                    department: theme.department,
                    reason: format!(
                        "该问题属{}职责范围，移交依法处理。",
                        department_title(theme.department)
                    ),
                },
            );
            push(
                pace.next(rng, 7, 25),
                Actor::Partner(theme.department),
                Action::Feedback {
                    content: "已接收移交，正在依法处理。".into(),
                    outcome: Some("已受理".into()),
                },
            );
            push(
                pace.next(rng, 2, 8),
                Actor::Officer,
                Action::Close {
                    outcome: Outcome::Referred,
                    summary: "已移交并收到主管部门反馈。".into(),
                },
            );
        }
        Plot::Withdrawn => {
            push(
                pace.next(rng, 1, 6),
                Actor::Officer,
                Action::Note {
                    text: "职工与企业自行协商解决，申请撤回投诉。".into(),
                },
            );
            push(
                pace.next(rng, 0, 2),
                Actor::Officer,
                Action::Close {
                    outcome: Outcome::Withdrawn,
                    summary: "职工撤回投诉。".into(),
                },
            );
        }
    }
}

/// The Chinese title of a department as a letter's recipient line names it.
fn department_title(department: &str) -> &'static str {
    match department {
        "hrss" => "演示市人力资源和社会保障局",
        "labour_inspection" => "演示市劳动保障监察支队",
        "emergency_management" => "演示市应急管理局",
        "health" => "演示市卫生健康委员会",
        "arbitration" => "演示市劳动人事争议仲裁院",
        "court" => "演示市人民法院",
        "procuratorate" => "演示市人民检察院",
        "justice" => "演示市司法局",
        _ => "演示市有关部门",
    }
}

/// The words of a case of one category: title, description, what was found, and what the
/// letters say.
#[derive(Debug)]
struct Theme {
    title: String,
    description: String,
    finding: String,
    hazard: Option<String>,
    reminder: String,
    opinion: String,
    rectified: String,
    /// The government department responsible for this kind of violation.
    department: &'static str,
}

impl Theme {
    fn of(category: Category, employer: &str, workers: u32) -> Theme {
        let (title, description, finding, hazard, law, demand, department) = match category {
            Category::WageArrears => (
                format!("{employer}拖欠{workers}名职工工资"),
                format!("{employer}{workers}名职工反映企业已连续三个月未足额发放工资，临近年关讨薪无果。"),
                "企业工资台账显示，近三个月工资未按月足额支付。".to_owned(),
                None,
                "《中华人民共和国劳动法》第五十条",
                "足额支付所欠职工工资",
                "labour_inspection",
            ),
            Category::OccupationalDisease => (
                format!("{employer}粉尘岗位职工疑似矽肺"),
                format!("{employer}原料破碎和窑炉岗位粉尘浓度高，{workers}名职工反映咳嗽、胸闷，其中数人疑似矽肺。"),
                "破碎车间未设置有效除尘设施，未组织职工进行职业健康检查。".to_owned(),
                Some("矽尘（游离二氧化硅）".to_owned()),
                "《中华人民共和国职业病防治法》",
                "完善除尘设施并组织接触粉尘的职工进行职业健康检查",
                "health",
            ),
            Category::SafetyHazard => (
                format!("{employer}生产现场存在安全隐患"),
                format!("{employer}车间消防通道被堵塞，部分设备防护罩缺失，{workers}名职工在此作业。"),
                "现场发现消防通道堆放物料、冲压设备防护装置缺失。".to_owned(),
                Some("机械伤害、火灾".to_owned()),
                "《中华人民共和国安全生产法》",
                "消除安全隐患并对职工进行安全培训",
                "emergency_management",
            ),
            Category::PpeShortfall => (
                format!("{employer}未按规定配发劳动防护用品"),
                format!("{employer}窑炉线{workers}名职工自十月起未领到防尘口罩和防护手套。"),
                "企业劳动防护用品发放记录缺失，现场职工未佩戴防尘口罩。".to_owned(),
                Some("粉尘、高温".to_owned()),
                "《中华人民共和国安全生产法》第四十五条",
                "为从业人员配发符合国家标准的劳动防护用品",
                "emergency_management",
            ),
            Category::WorkingHours => (
                format!("{employer}强制职工超时加班"),
                format!("{employer}{workers}名职工反映每天工作十二小时，每月仅休息两天，加班费未足额支付。"),
                "考勤记录显示职工月加班时间远超法定上限。".to_owned(),
                None,
                "《中华人民共和国劳动法》第四十一条",
                "依法安排工作时间并足额支付加班工资",
                "labour_inspection",
            ),
            Category::LabourContract => (
                format!("{employer}未与职工签订书面劳动合同"),
                format!("{employer}{workers}名职工入职半年以上仍未签订书面劳动合同。"),
                "企业花名册中多名职工无书面劳动合同。".to_owned(),
                None,
                "《中华人民共和国劳动合同法》第十条",
                "与职工依法订立书面劳动合同",
                "hrss",
            ),
            Category::SocialInsurance => (
                format!("{employer}未为职工缴纳社会保险"),
                format!("{employer}{workers}名职工反映企业未为其办理社会保险登记。"),
                "企业参保人数明显少于在岗职工人数。".to_owned(),
                None,
                "《中华人民共和国社会保险法》第五十八条",
                "为职工办理社会保险登记并补缴社会保险费",
                "hrss",
            ),
            Category::CollectiveContract => (
                format!("{employer}拒绝开展工资集体协商"),
                format!("{employer}工会提出工资集体协商要约，企业逾期未作答复，涉及职工{workers}名。"),
                "企业未在规定期限内回应集体协商要约。".to_owned(),
                None,
                "《集体合同规定》",
                "依法回应集体协商要约并开展协商",
                "hrss",
            ),
            Category::Other => (
                format!("{employer}职工反映劳动权益问题"),
                format!("{employer}{workers}名职工反映企业规章制度未经民主程序制定。"),
                "企业部分规章制度未经职工代表大会讨论。".to_owned(),
                None,
                "《中华人民共和国劳动合同法》第四条",
                "依法履行民主程序",
                "hrss",
            ),
        };
        Theme {
            reminder: format!(
                "我会接到职工反映，你单位可能存在{}的情形。请对照{law}自查自纠，防止问题发生。",
                finding.trim_end_matches('。')
            ),
            opinion: format!(
                "经调查核实，{finding}上述行为违反了{law}的规定。依据《中华人民共和国工会法》及\
                 《工会劳动法律监督办法》，请你单位{demand}，并于期限内将整改情况书面反馈我会。"
            ),
            rectified: format!("企业已{demand}，并提交整改报告。"),
            title,
            description,
            finding,
            hazard,
            department,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn the_courses_add_up_to_the_office_s_cases() {
        assert_eq!(PLOTS.iter().map(|(_, count)| count).sum::<usize>(), CASES);
    }

    #[test]
    fn every_case_s_steps_are_in_time_order_and_none_is_after_now() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 8, 0, 0).unwrap();
        let mut rng = StdRng::seed_from_u64(2026);
        let scripts = write(&mut rng, &mut Registry::new(), 6, now);
        assert_eq!(scripts.len(), CASES);
        for script in &scripts {
            assert!(matches!(script.steps.first(), Some((_, _, Action::Open))));
            assert!(script.steps.windows(2).all(|pair| pair[0].0 <= pair[1].0));
            assert!(script.steps.iter().all(|(at, _, _)| *at <= now));
            assert!(script.steps[0].0 >= now - Duration::days(PERIOD_DAYS));
        }
        let erased = scripts
            .iter()
            .filter(|script| {
                script
                    .steps
                    .iter()
                    .any(|(_, _, action)| matches!(action, Action::Erase))
            })
            .count();
        assert_eq!(erased, 1, "one complainant asks for erasure");
    }
}
