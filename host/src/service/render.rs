//! Rendering a stored document for people, the way the stage that writes its key
//! renders it: the stage's renderer component (`[stage.render]` in pipeline.toml,
//! WIT world `renderer`). The host knows no stage's document shape.

use serde_json::Value;

use super::{Error, ErrorKind, Result, Service};
use crate::memory::{Key, Namespace};

impl Service {
    /// `doc`, stored at `key` in `ns`, in `format` (such as `markdown`), by the
    /// renderer of the stage that writes the key.
    /// A document no renderer draws is shown in markdown as `agent inputs --format
    /// markdown` shows an input: a heading and a JSON block ([`json_block`]).
    pub fn render(&self, doc: &Value, ns: &Namespace, key: &Key, format: &str) -> Result<String> {
        let stage = self.producer(ns.as_str(), key.as_str())?;
        let Some((stage, render)) = stage
            .as_ref()
            .and_then(|s| s.render.as_ref().map(|r| (s, r)))
        else {
            if format == "markdown" {
                return Ok(json_block(ns.as_str(), key.as_str(), None, doc));
            }
            let why = match &stage {
                None => "no stage of the pipeline writes it".to_owned(),
                Some(s) => format!("stage `{}`, which writes it, offers no rendering", s.name),
            };
            return Err(Error::bad_input(format!(
                "key `{key}` in namespace `{ns}` is not a document baton can render as {format}: {why}"
            ))
            .hint("a stage offers one with a renderer component in `[stage.render]` (WIT world `renderer`)"));
        };
        let what = format!("the renderer of stage `{}`", stage.name);
        if let Some(build) = &render.build {
            build
                .ensure(&what)
                .map_err(|e| Error::new(ErrorKind::Failure, e))?;
        }
        let (plugin, _) = self
            .runtime()?
            .load_renderer(&render.path)
            .map_err(|e| Error::new(ErrorKind::BadInput, e.context(what.clone())))?;
        match plugin.render(&stage.name, format, &doc.to_string(), &stage.limits) {
            Ok(Ok(text)) => Ok(text),
            Ok(Err(why)) => Err(Error::bad_input(format!(
                "{what} cannot render key `{key}` in namespace `{ns}` as {format}: {why}"
            ))),
            Err(failure) => Err(Error::new(
                ErrorKind::StageFailed,
                anyhow::anyhow!("{what} failed: {failure}"),
            )),
        }
    }
}

pub use crate::text::json_block;
