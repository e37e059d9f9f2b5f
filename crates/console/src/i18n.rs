//! The console's languages and message catalogs: Chinese (简体中文, the default) and English,
//! as Fluent resources embedded in the binary (`locales/<lang>/console.ftl`). Both catalogs
//! hold the same keys; a test checks it, and another that every key a template asks for is
//! in them.

use std::collections::HashMap;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use serde::Serialize;

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub enum Lang {
    /// 简体中文, the default.
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// Every language, the default first.
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    /// The BCP 47 tag (`zh-CN`, `en`): the page's `lang` attribute and the cookie's value.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The language of a tag; `None` for any other.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|lang| lang.tag() == tag)
    }

    /// Its place in [`Lang::ALL`].
    fn index(self) -> usize {
        match self {
            Lang::ZhCn => 0,
            Lang::En => 1,
        }
    }

    /// The other language (what the switch offers).
    pub fn other(self) -> Lang {
        match self {
            Lang::ZhCn => Lang::En,
            Lang::En => Lang::ZhCn,
        }
    }
}

const ZH_CN: &str = include_str!("../locales/zh-CN/console.ftl");
const EN: &str = include_str!("../locales/en/console.ftl");

/// The catalogs of every language.
pub struct Catalogs {
    zh_cn: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
    /// Every message that takes no arguments, formatted once at load, per language: most of a
    /// page's texts (labels, column heads, vocabulary), looked up rather than formatted.
    plain: [HashMap<String, String>; 2],
}

impl std::fmt::Debug for Catalogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogs").finish_non_exhaustive()
    }
}

fn bundle(lang: Lang, source: &'static str) -> anyhow::Result<FluentBundle<FluentResource>> {
    let resource = FluentResource::try_new(source.to_owned()).map_err(|(_, errors)| {
        anyhow::anyhow!("the {} catalog does not parse: {errors:?}", lang.tag())
    })?;
    let tag: unic_langid::LanguageIdentifier = lang
        .tag()
        .parse()
        .map_err(|error| anyhow::anyhow!("language tag {}: {error}", lang.tag()))?;
    let mut bundle = FluentBundle::new_concurrent(vec![tag]);
    // Unicode isolation marks would show in attributes and break copy-paste of numbers.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .map_err(|errors| anyhow::anyhow!("the {} catalog: {errors:?}", lang.tag()))?;
    Ok(bundle)
}

impl Catalogs {
    /// Parses both catalogs.
    pub fn load() -> anyhow::Result<Catalogs> {
        let mut catalogs = Catalogs {
            zh_cn: bundle(Lang::ZhCn, ZH_CN)?,
            en: bundle(Lang::En, EN)?,
            plain: Default::default(),
        };
        let mut plain: [HashMap<String, String>; 2] = Default::default();
        for (lang, source) in [(Lang::ZhCn, ZH_CN), (Lang::En, EN)] {
            let bundle = catalogs.bundle(lang);
            for key in message_ids(source) {
                let Some(pattern) = bundle.get_message(key).and_then(|message| message.value())
                else {
                    continue;
                };
                // A message that needs an argument reports it missing: it is formatted per use.
                let mut errors = Vec::new();
                let text = bundle.format_pattern(pattern, None, &mut errors);
                if errors.is_empty() {
                    plain[lang.index()].insert(key.to_owned(), text.into_owned());
                }
            }
        }
        catalogs.plain = plain;
        Ok(catalogs)
    }

    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        match lang {
            Lang::ZhCn => &self.zh_cn,
            Lang::En => &self.en,
        }
    }

    /// Whether `key` is a message of the catalogs.
    pub fn has(&self, key: &str) -> bool {
        self.zh_cn.has_message(key)
    }

    /// The text of `key` in `lang` with `args`; the key itself when the catalog lacks it (a
    /// test keeps that from happening).
    pub fn text(&self, lang: Lang, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        if args.is_none_or(|args| args.iter().next().is_none()) {
            if let Some(text) = self.plain[lang.index()].get(key) {
                return text.clone();
            }
        }
        let bundle = self.bundle(lang);
        let Some(pattern) = bundle.get_message(key).and_then(|message| message.value()) else {
            tracing::warn!(key, lang = lang.tag(), "a console message is missing");
            return key.to_owned();
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(key, lang = lang.tag(), ?errors, "a console message failed");
        }
        text.into_owned()
    }
}

/// The message ids of a catalog's source, in order: the lines that start a message
/// (`key = …`; continuation lines are indented, comments start with `#`).
fn message_ids(source: &str) -> impl Iterator<Item = &str> {
    source
        .lines()
        .filter(|line| line.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        .filter_map(|line| line.split_once('=').map(|(key, _)| key.trim()))
}

/// The message ids of a catalog's source, in order.
#[cfg(test)]
pub(crate) fn keys_of(source: &str) -> Vec<String> {
    message_ids(source).map(ToOwned::to_owned).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn both_catalogs_parse_and_hold_the_same_keys() {
        let catalogs = Catalogs::load().unwrap();
        let zh: BTreeSet<_> = keys_of(ZH_CN).into_iter().collect();
        let en: BTreeSet<_> = keys_of(EN).into_iter().collect();
        assert!(zh.len() > 20, "{}", zh.len());
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(only_zh.is_empty(), "only in zh-CN: {only_zh:?}");
        assert!(only_en.is_empty(), "only in en: {only_en:?}");
        assert_eq!(
            keys_of(ZH_CN).len(),
            zh.len(),
            "a key is defined twice in zh-CN"
        );
        for key in &zh {
            assert!(catalogs.has(key), "{key}");
            assert_ne!(&catalogs.text(Lang::ZhCn, key, None), key);
            assert_ne!(&catalogs.text(Lang::En, key, None), key);
        }
    }

    #[test]
    fn tags_round_trip_and_chinese_is_the_default() {
        assert_eq!(Lang::default(), Lang::ZhCn);
        for lang in Lang::ALL {
            assert_eq!(Lang::from_tag(lang.tag()), Some(lang));
        }
        assert_eq!(Lang::from_tag("fr"), None);
    }
}
