//! Values with one text form, the same in the database and on the wire: ids and
//! states. The store keeps such a value as text and gets it back typed, refusing
//! text that is not one.

/// A value that is written as text and read back from it.
pub trait TextForm: Sized {
    /// What the value is, for an error about text that is not one ("tenant id").
    const KIND: &'static str;

    /// The value's text.
    fn text(&self) -> &str;

    /// The value `text` stands for, if it is one.
    fn from_text(text: &str) -> Option<Self>;
}
