//! What a tenant does with payloads that break their event type's schema.

/// A tenant's schema validation mode. The text form is what the API takes and the
/// database stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaMode {
    /// Every payload is accepted as sent (the default).
    #[default]
    Accept,
    /// Accepted, with where it broke the schema recorded on the message.
    Flag,
    /// Refused with `422`.
    Reject,
}

impl SchemaMode {
    pub const NAMES: [&'static str; 3] = ["accept", "flag", "reject"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Flag => "flag",
            Self::Reject => "reject",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "accept" => Some(Self::Accept),
            "flag" => Some(Self::Flag),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }
}

impl crate::TextForm for SchemaMode {
    const KIND: &'static str = "schema validation mode";

    fn text(&self) -> &str {
        self.as_str()
    }

    fn from_text(text: &str) -> Option<Self> {
        Self::parse(text)
    }
}

impl std::fmt::Display for SchemaMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_reads_back_from_its_text_and_nothing_else_does() {
        for name in SchemaMode::NAMES {
            assert_eq!(SchemaMode::parse(name).map(SchemaMode::as_str), Some(name));
        }
        assert_eq!(SchemaMode::parse("Accept"), None);
        assert_eq!(SchemaMode::parse(""), None);
        assert_eq!(SchemaMode::default(), SchemaMode::Accept);
    }
}
