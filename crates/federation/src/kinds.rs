//! The closed vocabularies of the federation: the kinds of message nodes
//! exchange, where a message to a peer stands, whether a peer is active,
//! and what a signed receipt acknowledges. Each is parsed once, where it
//! enters the node (an envelope's header, a stored row, a request), and
//! written back with the exact strings on the wire and in the database:
//! a header or receipt serialized with these enums is byte for byte the
//! one serialized with those strings, so signatures are unaffected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A value outside one of these vocabularies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a known {what}")]
pub struct UnknownValue {
    what: &'static str,
    code: &'static str,
    value: String,
}

impl UnknownValue {
    /// Stable code, for a refusal or a problem.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The value refused.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// Defines a closed vocabulary: the enum, its wire strings (`as_str`,
/// serde, `Display`), its parser (`parse`, `FromStr`) and every value
/// (`ALL`).
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident, what = $what:literal, code = $code:literal,
        { $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as written on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }

            /// Parses the wire form; anything else is refused.
            pub fn parse(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $( $wire => Ok($name::$variant), )+
                    other => Err(UnknownValue {
                        what: $what,
                        code: $code,
                        value: other.to_owned(),
                    }),
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// What an envelope carries (its header's `message_type`). The
    /// transport's own kinds (key rotations, receipts, attachment
    /// manifests) are handled by the transport; the others go to the
    /// features.
    MessageKind, what = "message kind", code = "message_kind_unknown",
    {
        /// A cooperation request.
        Request = "request",
        /// A change to a request exchanged before (its state, an answer).
        RequestUpdate = "request-update",
        /// An evidence package, inline or naming a streamed attachment.
        EvidencePackage = "evidence-package",
        /// A note to the peer's administrators, kept in its inbox.
        Note = "note",
        /// A peer's announcement of its new signing key.
        KeyRotation = "key-rotation",
        /// A signed retrieval receipt for one of the recipient's messages.
        Receipt = "receipt",
        /// An attachment's manifest; its chunks are streamed after it.
        Attachment = "attachment",
    }
}

vocabulary! {
    /// Where a message to a peer stands.
    OutboxStatus, what = "outbox status", code = "outbox_status_unknown",
    {
        /// Waiting for delivery (or being retried).
        Pending = "pending",
        /// The peer returned its signed delivery receipt.
        Delivered = "delivered",
        /// Given up: expired or refused.
        Dead = "dead",
    }
}

vocabulary! {
    /// Whether messages are exchanged with a peer.
    PeerStatus, what = "peer status", code = "invalid_peer_status",
    {
        Active = "active",
        Disabled = "disabled",
    }
}

vocabulary! {
    /// What a signed receipt acknowledges.
    ReceiptStatus, what = "receipt status", code = "receipt_status_unknown",
    {
        /// The message arrived and was stored.
        Delivered = "delivered",
        /// A person opened it.
        Retrieved = "retrieved",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value: `as_str`, `parse`, `FromStr`, `Display` and serde agree,
    /// and each is serialized as its bare wire string.
    fn round_trip<T>(all: &[T], as_str: fn(T) -> &'static str)
    where
        T: Copy
            + PartialEq
            + fmt::Debug
            + fmt::Display
            + FromStr<Err = UnknownValue>
            + Serialize
            + serde::de::DeserializeOwned,
    {
        let mut seen = std::collections::BTreeSet::new();
        for &v in all {
            let s = as_str(v);
            assert!(seen.insert(s), "{s} twice");
            assert_eq!(s.parse::<T>(), Ok(v));
            assert_eq!(v.to_string(), s);
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v);
        }
    }

    #[test]
    fn every_value_round_trips() {
        round_trip(MessageKind::ALL, MessageKind::as_str);
        round_trip(OutboxStatus::ALL, OutboxStatus::as_str);
        round_trip(PeerStatus::ALL, PeerStatus::as_str);
        round_trip(ReceiptStatus::ALL, ReceiptStatus::as_str);
        assert_eq!(MessageKind::ALL.len(), 7);
    }

    #[test]
    fn the_wire_strings_are_the_ones_nodes_exchange() {
        let kinds: Vec<_> = MessageKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "request",
                "request-update",
                "evidence-package",
                "note",
                "key-rotation",
                "receipt",
                "attachment"
            ]
        );
        assert_eq!(OutboxStatus::Dead.as_str(), "dead");
        assert_eq!(PeerStatus::Disabled.as_str(), "disabled");
        assert_eq!(ReceiptStatus::Retrieved.as_str(), "retrieved");
        // Shown in columns by the command line: widths apply.
        assert_eq!(format!("{:<9}|", PeerStatus::Active), "active   |");
    }

    #[test]
    fn unknown_values_are_refused_with_a_stable_code() {
        for unknown in ["attachment-chunk", "Request", "request ", ""] {
            let e = MessageKind::parse(unknown).unwrap_err();
            assert_eq!(e.code(), "message_kind_unknown");
            assert_eq!(e.value(), unknown);
            assert!(serde_json::from_str::<MessageKind>(&format!("\"{unknown}\"")).is_err());
        }
        assert_eq!(
            "paused".parse::<OutboxStatus>().unwrap_err().code(),
            "outbox_status_unknown"
        );
        let e = "enabled".parse::<PeerStatus>().unwrap_err();
        assert_eq!(e.code(), "invalid_peer_status");
        assert_eq!(e.to_string(), "'enabled' is not a known peer status");
        assert_eq!(
            "read".parse::<ReceiptStatus>().unwrap_err().code(),
            "receipt_status_unknown"
        );
        // Case matters: the wire strings are exact.
        assert!("DELIVERED".parse::<ReceiptStatus>().is_err());
    }
}
