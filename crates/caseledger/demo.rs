//! `caseledger demo`: fills a fresh store with a demo office — eighteen months of a fictional
//! city federation of trade unions' rights-protection work — so that a person who starts the
//! service has something real to look at.
//!
//! Everything goes through the real service: the store is opened by the same
//! [`Server::build`](crate::serve::Server) as `serve` (signing key, first admin token, data-dir
//! layout), and every case event is a command of [`App`] run by a person's token, at the time
//! the story says (the service's clock is a [`StoryClock`] that the story moves forward). So the
//! chain, the projections, the statistics and the partner feeds are exactly what real use
//! would give. The people and places are in `demo/office.rs`, the cases' courses in
//! `demo/story.rs`.
//!
//! The tokens of the office's people go to `<data-dir>/demo-tokens` (mode 0600), never to the
//! log.

mod office;
mod story;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use caseledger_app::{App, Caller, Clock, OpenCase};
use caseledger_domain::{
    CaseId, Command, ComplainantInput, Department, EmployerInput, LetterId, Role,
};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng as _;
use uuid::Uuid;

use crate::cli::DemoArgs;
use crate::data_dir;
use crate::progress::progress_bar;
use crate::serve::Server;
use story::{Action, Actor, Script};

pub use office::{FICTIONAL_AREA_CODE, FICTIONAL_DIVISION_PREFIX, FICTIONAL_ID_PREFIX};

/// How many officers and supervisors the demo office has.
const OFFICERS: usize = 6;
const SUPERVISORS: usize = 2;

/// The partner departments whose liaison officers get a token (each must be configured).
const PARTNER_DEPARTMENTS: &[&str] = &[
    "hrss",
    "labour_inspection",
    "arbitration",
    "justice",
    "court",
    "procuratorate",
    "emergency_management",
    "health",
];

/// What the demo made, for its closing line and its test.
#[derive(Debug)]
pub struct DemoReport {
    /// Cases opened.
    pub cases: usize,
    /// Events written.
    pub events: u64,
    /// Where the tokens went.
    pub tokens_file: PathBuf,
}

/// The service's clock while the demo plays: the story sets it to each step's time.
#[derive(Debug)]
pub struct StoryClock {
    now: Mutex<DateTime<Utc>>,
}

impl StoryClock {
    fn new(start: DateTime<Utc>) -> StoryClock {
        StoryClock {
            now: Mutex::new(start),
        }
    }

    fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut now) = self.now.lock() {
            *now = at;
        }
    }
}

impl Clock for StoryClock {
    fn now(&self) -> DateTime<Utc> {
        self.now
            .lock()
            .map(|now| *now)
            .unwrap_or_else(|_| Utc::now())
    }
}

/// Runs `caseledger demo`.
pub async fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let report = fill(args).await?;
    println!(
        "demo office ready: {} cases, {} events; the people's tokens are in {}",
        report.cases,
        report.events,
        report.tokens_file.display()
    );
    Ok(())
}

/// Fills the fresh store that `args` name with the demo office.
pub async fn fill(args: &DemoArgs) -> anyhow::Result<DemoReport> {
    let mut flags = args.serve.clone();
    // The demo serves nothing: any free loopback port keeps it out of a running service's way.
    flags.listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let settings = flags.settings()?;
    let data_dir = settings.data_dir.clone();
    // "Now" to the minute, so the story's times are whole and its last step is in the past.
    let now = DateTime::from_timestamp(Utc::now().timestamp() / 60 * 60, 0).unwrap_or_default();
    let start = now - Duration::days(story::PERIOD_DAYS + 1);
    let clock = Arc::new(StoryClock::new(start));
    let server = Server::build_with_clock(settings, None, clock.clone()).await?;
    let filled = fill_store(args.seed, &server, &data_dir, &clock, now).await;
    server.close().await;
    filled
}

async fn fill_store(
    seed: u64,
    server: &Server,
    data_dir: &Path,
    clock: &StoryClock,
    now: DateTime<Utc>,
) -> anyhow::Result<DemoReport> {
    let app = server.app();
    if server.initial_admin_token_file().is_none() || app.head().position.0 > 0 {
        anyhow::bail!(
            "the store of {} is not empty: the demo fills only a fresh store (use a new \
             --data-dir, or a new database with --store)",
            data_dir.display()
        );
    }
    let admin_token = std::fs::read_to_string(data_dir::initial_admin_token_file(data_dir))
        .context("cannot read the initial admin token")?;
    let admin = app
        .authenticate(admin_token.trim())
        .context("the initial admin token does not authenticate")?;

    let mut rng = StdRng::seed_from_u64(seed);
    let mut registry = office::Registry::new();
    let office = Office::hire(app, &admin, &mut registry, &mut rng).await?;
    let tokens_file = office.write_tokens(data_dir, admin_token.trim())?;

    let scripts = story::write(&mut rng, &mut registry, OFFICERS, now);
    let mut timeline: Vec<(DateTime<Utc>, usize, usize)> = scripts
        .iter()
        .enumerate()
        .flat_map(|(case, script)| {
            script
                .steps
                .iter()
                .enumerate()
                .map(move |(step, (at, _, _))| (*at, case, step))
        })
        .collect();
    timeline.sort();

    let bar = progress_bar(timeline.len() as u64, "demo office");
    let mut cases: Vec<PlayedCase> = scripts.iter().map(|_| PlayedCase::default()).collect();
    for (at, case, step) in timeline {
        clock.set(at);
        let script = &scripts[case];
        let (_, actor, action) = &script.steps[step];
        office
            .play(app, script, &mut cases[case], *actor, action)
            .await
            .with_context(|| format!("demo case {case}, step {step} ({action:?})"))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(DemoReport {
        cases: scripts.len(),
        events: app.head().position.0,
        tokens_file,
    })
}

/// What the demo knows of a case while it plays: its id and its letters by label.
#[derive(Debug, Default)]
struct PlayedCase {
    id: Option<CaseId>,
    letters: HashMap<u8, LetterId>,
}

impl PlayedCase {
    fn id(&self) -> anyhow::Result<CaseId> {
        self.id.context("a step before the case was opened")
    }

    fn letter(&self, label: u8) -> anyhow::Result<LetterId> {
        self.letters
            .get(&label)
            .copied()
            .with_context(|| format!("letter {label} was not issued"))
    }
}

/// The office's people, each with a token of their own.
#[derive(Debug)]
struct Office {
    admin: Caller,
    officers: Vec<(Caller, String)>,
    supervisors: Vec<(Caller, String)>,
    partners: BTreeMap<&'static str, (Caller, String)>,
    auditor: (Caller, String),
}

impl Office {
    /// Issues a token to every person of the office, as its admin would.
    async fn hire(
        app: &App,
        admin: &Caller,
        registry: &mut office::Registry,
        rng: &mut StdRng,
    ) -> anyhow::Result<Office> {
        let issue = |name: String, role: Role, department: Option<Department>| async move {
            let issued = app
                .issue_token(admin, name, role, department)
                .await
                .map_err(|error| anyhow::anyhow!("cannot issue a demo token: {error}"))?;
            let caller = app
                .authenticate(&issued.token)
                .context("a demo token does not authenticate")?;
            anyhow::Ok((caller, issued.token))
        };
        // Every department first, so a configuration lacking one stops the demo before it
        // issues any token.
        let mut departments = Vec::new();
        for department in PARTNER_DEPARTMENTS {
            let parsed = department_named(department)?;
            if !app.policy().knows(&parsed) {
                anyhow::bail!(
                    "the demo needs the default departments, and {department} is not configured"
                );
            }
            departments.push((*department, parsed));
        }
        let mut officers = Vec::new();
        for _ in 0..OFFICERS {
            officers.push(issue(registry.person(rng).name, Role::Officer, None).await?);
        }
        let mut supervisors = Vec::new();
        for _ in 0..SUPERVISORS {
            supervisors.push(issue(registry.person(rng).name, Role::Supervisor, None).await?);
        }
        let mut partners = BTreeMap::new();
        for (name, department) in departments {
            let person = format!("{}（{name}）", registry.person(rng).name);
            partners.insert(name, issue(person, Role::Partner, Some(department)).await?);
        }
        let auditor = issue(registry.person(rng).name, Role::Auditor, None).await?;
        Ok(Office {
            admin: admin.clone(),
            officers,
            supervisors,
            partners,
            auditor,
        })
    }

    /// Writes every person's token to `<data_dir>/demo-tokens`, mode 0600.
    fn write_tokens(&self, data_dir: &Path, admin_token: &str) -> anyhow::Result<PathBuf> {
        let path = data_dir::demo_tokens_file(data_dir);
        let mut lines = vec![
            "# The demo office's people and their API tokens (fictional people; keep the file \
             private all the same)."
                .to_owned(),
            "# role\tname\tdepartment\ttoken".to_owned(),
            format!("admin\tadmin\t-\t{admin_token}"),
        ];
        let mut add = |role: &str, (caller, token): &(Caller, String)| {
            let department = caller
                .department
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            lines.push(format!("{role}\t{}\t{department}\t{token}", caller.name));
        };
        self.supervisors
            .iter()
            .for_each(|person| add("supervisor", person));
        self.officers
            .iter()
            .for_each(|person| add("officer", person));
        self.partners
            .values()
            .for_each(|person| add("partner", person));
        add("auditor", &self.auditor);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all((lines.join("\n") + "\n").as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    fn caller(&self, script: &Script, actor: Actor) -> anyhow::Result<&Caller> {
        Ok(match actor {
            Actor::Officer => &self.officers[script.officer % self.officers.len()].0,
            Actor::Supervisor => &self.supervisors[script.officer % self.supervisors.len()].0,
            Actor::Partner(department) => {
                &self
                    .partners
                    .get(department)
                    .with_context(|| format!("no demo partner for {department}"))?
                    .0
            }
            Actor::Admin => &self.admin,
            Actor::System => {
                anyhow::bail!("the service acts for itself only through its own commands")
            }
        })
    }

    /// Runs one step of a case's story through the service.
    async fn play(
        &self,
        app: &App,
        script: &Script,
        case: &mut PlayedCase,
        actor: Actor,
        action: &Action,
    ) -> anyhow::Result<()> {
        let failed = |error: caseledger_app::AppError| anyhow::anyhow!("{error}");
        let command = match action {
            Action::Open => {
                let caller = self.caller(script, actor)?;
                let opened = app
                    .open_case(caller, open_case(script), None)
                    .await
                    .map_err(failed)?;
                case.id = Some(opened.case_id);
                return Ok(());
            }
            Action::DeadlineMissed { label } => {
                app.mark_deadline_missed(case.id()?, case.letter(*label)?)
                    .await
                    .map_err(failed)?;
                return Ok(());
            }
            Action::Erase => {
                app.erase_personal_data(&self.admin, case.id()?, None)
                    .await
                    .map_err(failed)?;
                return Ok(());
            }
            Action::Assign => Command::AssignOfficer {
                officer: self.officers[script.officer % self.officers.len()]
                    .0
                    .name
                    .clone(),
            },
            Action::Finding { summary, hazard } => Command::RecordFinding {
                summary: summary.clone(),
                hazard: hazard.clone(),
            },
            Action::Letter {
                label,
                kind,
                recipient,
                content,
                deadline,
                department,
            } => {
                let letter_id = LetterId(Uuid::now_v7());
                case.letters.insert(*label, letter_id);
                Command::IssueLetter {
                    letter_id,
                    number: String::new(),
                    kind: *kind,
                    recipient: recipient.clone(),
                    content: content.clone(),
                    deadline: *deadline,
                    department: department.map(department_named).transpose()?,
                }
            }
            Action::Answer {
                label,
                rectified,
                content,
            } => Command::AnswerLetter {
                letter_id: case.letter(*label)?,
                rectified: *rectified,
                content: content.clone(),
            },
            Action::Escalate { tier, reason } => Command::Escalate {
                tier: *tier,
                departments: None,
                reason: reason.clone(),
            },
            Action::Refer { department, reason } => Command::Refer {
                department: department_named(department)?,
                reason: reason.clone(),
            },
            Action::Feedback { content, outcome } => Command::RecordFeedback {
                content: content.clone(),
                outcome: outcome.clone(),
            },
            Action::Note { text } => Command::AddNote { text: text.clone() },
            Action::Close { outcome, summary } => Command::Close {
                outcome: *outcome,
                summary: summary.clone(),
            },
            Action::Reopen { reason } => Command::Reopen {
                reason: reason.clone(),
            },
        };
        let caller = self.caller(script, actor)?;
        app.execute(caller, case.id()?, command, None, None)
            .await
            .map_err(failed)?;
        Ok(())
    }
}

/// A configured department by its name.
fn department_named(name: &str) -> anyhow::Result<Department> {
    name.parse()
        .map_err(|error| anyhow::anyhow!("the demo's department {name}: {error}"))
}

fn open_case(script: &Script) -> OpenCase {
    OpenCase {
        title: script.title.clone(),
        category: script.category,
        description: script.description.clone(),
        source: script.source,
        employer: EmployerInput {
            name: script.employer.name.clone(),
            credit_code: Some(script.employer.credit_code.clone()),
            credit_code_unverified: false,
        },
        region: Some(script.employer.region.to_owned()),
        industry: Some(script.employer.industry.code.to_owned()),
        workers_affected: Some(script.workers_affected),
        complainant: script
            .complainant
            .as_ref()
            .map(|complainant| ComplainantInput {
                name: complainant.name.clone(),
                phone: Some(complainant.phone.clone()),
                id_number: Some(complainant.id_number.clone()),
            }),
    }
}
