//! What every console handler is given: the app, the configuration, the compiled templates
//! and the message catalogs.

use std::sync::Arc;

use caseledger_app::App;

use crate::config::ConsoleConfig;
use crate::i18n::{Catalogs, Lang};
use crate::templates::Templates;
use crate::views::Wording;

/// The console's shared state (cheap to clone).
#[derive(Debug, Clone)]
pub struct ConsoleState {
    /// The service.
    pub app: Arc<App>,
    /// The configuration.
    pub config: Arc<ConsoleConfig>,
    pub(crate) templates: Arc<Templates>,
    pub(crate) catalogs: Arc<Catalogs>,
    /// This process's current or last verification of the whole chain (the audit pages').
    pub(crate) verification: Arc<caseledger_app::VerificationRuns>,
}

impl ConsoleState {
    /// The console over `app`: compiles the templates and loads the catalogs (both embedded
    /// in the binary; a broken one fails here, at start, not on a page).
    pub fn new(app: Arc<App>, config: ConsoleConfig) -> anyhow::Result<ConsoleState> {
        let catalogs = Arc::new(Catalogs::load()?);
        let templates = Arc::new(Templates::load(Arc::clone(&catalogs), config.timezone)?);
        Ok(ConsoleState {
            app,
            config: Arc::new(config),
            templates,
            catalogs,
            verification: Arc::default(),
        })
    }

    /// How pages in `lang` word the values of their lists.
    pub(crate) fn wording(&self, lang: Lang) -> Wording<'_> {
        Wording {
            catalogs: &self.catalogs,
            lang,
            zone: self.config.timezone,
        }
    }
}
