//! Renderer components: how a stage's output reads for people.
//!
//! A renderer is a type implementing [`Renderer`], exported with
//! [`export_renderer!`](crate::export_renderer), and named in the stage's
//! `[stage.render]` table in `pipeline.toml`. It receives a document the stage wrote
//! and a format (`markdown`), and returns the text or says why it cannot.

use serde_json::Value;

/// A renderer of a stage's documents.
pub trait Renderer {
    /// `document` in `format`, or why not (a format not offered, a document that
    /// lacks what the rendering needs).
    fn render(format: &str, document: &Value) -> Result<String, String>;
}

#[doc(hidden)]
pub fn __render<R: Renderer>(format: String, document: String) -> Result<String, String> {
    let document: Value =
        serde_json::from_str(&document).map_err(|e| format!("the document is not JSON: {e}"))?;
    R::render(&format, &document)
}

/// Exports a [`Renderer`] implementation as the component's `render` function.
#[macro_export]
macro_rules! export_renderer {
    ($renderer:ty) => {
        struct __BatonRenderer;
        impl $crate::render_bindings::Guest for __BatonRenderer {
            fn render(
                format: ::std::string::String,
                document: ::std::string::String,
            ) -> ::core::result::Result<::std::string::String, ::std::string::String> {
                $crate::render::__render::<$renderer>(format, document)
            }
        }
        $crate::render_bindings::__export_renderer_world!(__BatonRenderer with_types_in $crate::render_bindings);
    };
}
