//! Identifiers named in requests. Each is checked for shape (and checksum
//! where one exists) at the edge: a provider cannot act on an IP address
//! without a time, or on an IBAN with a typo.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::parse::{parse_date_time, ContentError};
use crate::user::Email;
use crate::ParseError;

/// Blockchains for cryptocurrency addresses (MISP `coin-address` style).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    Bitcoin,
    Ethereum,
    Litecoin,
    Tron,
    Monero,
}

impl Chain {
    pub const ALL: [Chain; 5] = [
        Self::Bitcoin,
        Self::Ethereum,
        Self::Litecoin,
        Self::Tron,
        Self::Monero,
    ];

    /// The name used in JSON (`"bitcoin"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bitcoin => "bitcoin",
            Self::Ethereum => "ethereum",
            Self::Litecoin => "litecoin",
            Self::Tron => "tron",
            Self::Monero => "monero",
        }
    }
}

impl FromStr for Chain {
    type Err = ParseError;
    /// Accepts the JSON name in any case ("Bitcoin", "bitcoin").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                ParseError::new(
                    "invalid_chain",
                    format!(
                        "'{}' is not a supported blockchain (bitcoin, ethereum, litecoin, tron, monero)",
                        s.trim()
                    ),
                )
            })
    }
}

/// One identifier, with what a provider needs to find the data.
///
/// Deserialising goes through the same constructors as the web form (via a
/// private flat mirror, `RawIdentifier`), so JSON from the API or from a
/// peer cannot hold what the form refuses; a payment card must arrive
/// masked ([`Identifier::payment_card_masked`]). Serialisation is the
/// derived, internally tagged form (`{"type": "iban", "value": "..."}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "RawIdentifier")]
pub enum Identifier {
    /// An IP address is useless to a provider without the exact time (UTC)
    /// and, for shared IPv4 addresses (CGNAT), the source port.
    IpAddress {
        address: IpAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    Email {
        address: Email,
    },
    /// E.164: `+` then 8 to 15 digits.
    Phone {
        number: String,
    },
    Url {
        url: String,
    },
    Domain {
        name: String,
    },
    /// An account at a named service ("@handle" at "ExampleSocial").
    Account {
        service: String,
        handle: String,
    },
    /// 15 digits with a valid Luhn check digit.
    Imei {
        value: String,
    },
    /// 14 or 15 digits.
    Imsi {
        value: String,
    },
    CryptoAddress {
        chain: Chain,
        address: String,
    },
    /// Checked with the ISO 13616 mod-97 rule.
    Iban {
        value: String,
    },
    /// Only the masked form is kept: first six and last four digits.
    PaymentCard {
        masked: String,
    },
}

impl Identifier {
    pub fn ip(
        address: &str,
        port: Option<u16>,
        at: Option<OffsetDateTime>,
    ) -> Result<Self, ParseError> {
        let address: IpAddr = address.trim().parse().map_err(|_| {
            ParseError::new(
                "invalid_ip",
                format!("'{}' is not an IP address", address.trim()),
            )
        })?;
        let at = at.ok_or_else(|| {
            ParseError::new(
                "ip_without_time",
                "an IP address needs the date and time (with time zone) it was used",
            )
        })?;
        Ok(Self::IpAddress {
            address,
            port,
            at: at.to_offset(time::UtcOffset::UTC),
        })
    }

    pub fn phone(input: &str) -> Result<Self, ParseError> {
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        if (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0')
        {
            Ok(Self::Phone { number: compact })
        } else {
            Err(ParseError::new(
                "invalid_phone",
                format!(
                    "'{}' is not an international number (E.164, e.g. +33123456789)",
                    input.trim()
                ),
            ))
        }
    }

    pub fn url(input: &str) -> Result<Self, ParseError> {
        let s = input.trim();
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(|| {
                ParseError::new("invalid_url", format!("'{s}' is not an http(s) URL"))
            })?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit('@').next().unwrap_or("");
        let host = host.split(':').next().unwrap_or("");
        if s.len() > 2048
            || s.chars().any(char::is_whitespace)
            || domain_ok(host).is_err() && host.parse::<IpAddr>().is_err()
        {
            return Err(ParseError::new(
                "invalid_url",
                format!("'{s}' is not an http(s) URL"),
            ));
        }
        Ok(Self::Url { url: s.to_owned() })
    }

    pub fn domain(input: &str) -> Result<Self, ParseError> {
        let name = input.trim().trim_end_matches('.').to_lowercase();
        domain_ok(&name)?;
        Ok(Self::Domain { name })
    }

    pub fn account(service: &str, handle: &str) -> Result<Self, ParseError> {
        let (service, handle) = (service.trim(), handle.trim());
        if service.is_empty() || handle.is_empty() || service.len() > 100 || handle.len() > 200 {
            return Err(ParseError::new(
                "invalid_account",
                "an account needs the service and the handle or user identifier",
            ));
        }
        Ok(Self::Account {
            service: service.to_owned(),
            handle: handle.to_owned(),
        })
    }

    pub fn imei(input: &str) -> Result<Self, ParseError> {
        let v: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if v.len() == 15 && v.chars().all(|c| c.is_ascii_digit()) && luhn(&v) {
            Ok(Self::Imei { value: v })
        } else {
            Err(ParseError::new(
                "invalid_imei",
                format!(
                    "'{}' is not a valid IMEI (15 digits, Luhn check)",
                    input.trim()
                ),
            ))
        }
    }

    pub fn imsi(input: &str) -> Result<Self, ParseError> {
        let v = input.trim();
        if (14..=15).contains(&v.len()) && v.chars().all(|c| c.is_ascii_digit()) {
            Ok(Self::Imsi {
                value: v.to_owned(),
            })
        } else {
            Err(ParseError::new(
                "invalid_imsi",
                format!("'{v}' is not an IMSI (14 or 15 digits)"),
            ))
        }
    }

    pub fn crypto(chain: Chain, address: &str) -> Result<Self, ParseError> {
        let a = address.trim();
        let base58 = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l'))
        };
        let ok = match chain {
            Chain::Bitcoin => {
                (a.starts_with("bc1")
                    && (14..=74).contains(&a.len())
                    && a[3..]
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
                    || ((a.starts_with('1') || a.starts_with('3'))
                        && (26..=35).contains(&a.len())
                        && base58(a))
            }
            Chain::Ethereum => {
                a.len() == 42
                    && a.starts_with("0x")
                    && a[2..].chars().all(|c| c.is_ascii_hexdigit())
            }
            Chain::Litecoin => {
                (a.starts_with("ltc1") && (14..=74).contains(&a.len()))
                    || ((a.starts_with('L') || a.starts_with('M') || a.starts_with('3'))
                        && (26..=35).contains(&a.len())
                        && base58(a))
            }
            Chain::Tron => a.starts_with('T') && a.len() == 34 && base58(a),
            Chain::Monero => {
                (a.starts_with('4') || a.starts_with('8'))
                    && (95..=106).contains(&a.len())
                    && base58(a)
            }
        };
        if ok {
            Ok(Self::CryptoAddress {
                chain,
                address: a.to_owned(),
            })
        } else {
            Err(ParseError::new(
                "invalid_crypto_address",
                format!("'{a}' is not a {chain:?} address"),
            ))
        }
    }

    pub fn iban(input: &str) -> Result<Self, ParseError> {
        let v: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let invalid = || {
            ParseError::new(
                "invalid_iban",
                format!("'{}' is not a valid IBAN", input.trim()),
            )
        };
        if !v.is_ascii()
            || !(15..=34).contains(&v.len())
            || !v[..2].chars().all(|c| c.is_ascii_uppercase())
            || !v[2..4].chars().all(|c| c.is_ascii_digit())
            || !v.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(invalid());
        }
        let rearranged = format!("{}{}", &v[4..], &v[..4]);
        let mut rem: u32 = 0;
        for c in rearranged.chars() {
            let n = c.to_digit(36).ok_or_else(invalid)?;
            rem = if n >= 10 {
                (rem * 100 + n) % 97
            } else {
                (rem * 10 + n) % 97
            };
        }
        if rem == 1 {
            Ok(Self::Iban { value: v })
        } else {
            Err(invalid())
        }
    }

    /// Accepts a full card number (Luhn-checked) and keeps only its masked
    /// form, or an already masked one ("411111******1111").
    pub fn payment_card(input: &str) -> Result<Self, ParseError> {
        let v: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let invalid = || {
            ParseError::new(
                "invalid_card",
                "give the card number, or its first six and last four digits",
            )
        };
        if !v.is_ascii() || !(12..=19).contains(&v.len()) {
            return Err(invalid());
        }
        let digits_ok = v.chars().all(|c| c.is_ascii_digit());
        let masked_ok = v[..6].chars().all(|c| c.is_ascii_digit())
            && v[v.len() - 4..].chars().all(|c| c.is_ascii_digit())
            && v[6..v.len() - 4]
                .chars()
                .all(|c| c == '*' || c == 'X' || c == 'x');
        if digits_ok && !luhn(&v) {
            return Err(invalid());
        }
        if !digits_ok && !masked_ok {
            return Err(invalid());
        }
        let masked = format!(
            "{}{}{}",
            &v[..6],
            "*".repeat(v.len() - 10),
            &v[v.len() - 4..]
        );
        Ok(Self::PaymentCard { masked })
    }

    /// Accepts only an already masked card number (first six and last four
    /// digits, e.g. "411111******1111"). This is the rule for JSON (API and
    /// federation): a full card number must not travel or reach storage, so
    /// it is refused with `card_number_unmasked` rather than silently
    /// masked — the sender has to learn it sent one. The refusal never
    /// repeats the digits.
    pub fn payment_card_masked(input: &str) -> Result<Self, ParseError> {
        let v: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        // Any run of 12 to 19 digits is treated as a full number, whether its
        // Luhn check passes or not: a mistyped full number is still one.
        if (12..=19).contains(&v.len()) && v.chars().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::new(
                "card_number_unmasked",
                "give only the masked card number (first six and last four digits, e.g. 411111******1111), never the full number",
            ));
        }
        Self::payment_card(&v)
    }

    /// Whether this identifier gives the provider a time to search at.
    pub fn has_time(&self) -> bool {
        matches!(self, Self::IpAddress { .. })
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IpAddress { address, port, at } => {
                let at = at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                match port {
                    Some(p) if address.is_ipv6() => write!(f, "[{address}]:{p} ({at})"),
                    Some(p) => write!(f, "{address}:{p} ({at})"),
                    None => write!(f, "{address} ({at})"),
                }
            }
            Self::Email { address } => write!(f, "{address}"),
            Self::Phone { number } => f.write_str(number),
            Self::Url { url } => f.write_str(url),
            Self::Domain { name } => f.write_str(name),
            Self::Account { service, handle } => write!(f, "{handle} ({service})"),
            Self::Imei { value } => write!(f, "IMEI {value}"),
            Self::Imsi { value } => write!(f, "IMSI {value}"),
            Self::CryptoAddress { chain, address } => write!(f, "{address} ({chain:?})"),
            Self::Iban { value } => write!(f, "IBAN {value}"),
            Self::PaymentCard { masked } => write!(f, "card {masked}"),
        }
    }
}

/// The JSON shape of an identifier before its checks: the tag and every
/// field any type of identifier has, each optional. Reading into this flat
/// struct first lets a wrong, missing or misplaced field be reported by its
/// own name (`identifiers[0].at`) instead of "the identifier is invalid",
/// and keeps the checks in one place, the constructors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIdentifier {
    #[serde(rename = "type")]
    kind: String,
    address: Option<String>,
    /// Wider than `u16` so that an out-of-range port gets `invalid_port`
    /// rather than a generic serde refusal.
    port: Option<i64>,
    at: Option<String>,
    number: Option<String>,
    url: Option<String>,
    name: Option<String>,
    service: Option<String>,
    handle: Option<String>,
    value: Option<String>,
    chain: Option<String>,
    masked: Option<String>,
}

impl RawIdentifier {
    /// The fields that were given (a JSON `null` counts as not given).
    fn given(&self) -> [(&'static str, bool); 11] {
        [
            ("address", self.address.is_some()),
            ("port", self.port.is_some()),
            ("at", self.at.is_some()),
            ("number", self.number.is_some()),
            ("url", self.url.is_some()),
            ("name", self.name.is_some()),
            ("service", self.service.is_some()),
            ("handle", self.handle.is_some()),
            ("value", self.value.is_some()),
            ("chain", self.chain.is_some()),
            ("masked", self.masked.is_some()),
        ]
    }
}

/// The `type` tag of an identifier, once read.
#[derive(Clone, Copy)]
enum IdentifierType {
    Ip,
    Email,
    Phone,
    Url,
    Domain,
    Account,
    Imei,
    Imsi,
    Iban,
    Crypto,
    Card,
}

impl TryFrom<RawIdentifier> for Identifier {
    /// `field` is relative to the identifier (`"value"`, `"at"`); the
    /// content parser prefixes it with `identifiers[i].`.
    type Error = ContentError;

    fn try_from(raw: RawIdentifier) -> Result<Self, Self::Error> {
        use IdentifierType as T;
        let kind = raw.kind.as_str();
        let (tag, allowed): (T, &[&str]) = match kind {
            "ip_address" => (T::Ip, &["address", "port", "at"]),
            "email" => (T::Email, &["address"]),
            "phone" => (T::Phone, &["number"]),
            "url" => (T::Url, &["url"]),
            "domain" => (T::Domain, &["name"]),
            "account" => (T::Account, &["service", "handle"]),
            "imei" => (T::Imei, &["value"]),
            "imsi" => (T::Imsi, &["value"]),
            "iban" => (T::Iban, &["value"]),
            "crypto_address" => (T::Crypto, &["chain", "address"]),
            "payment_card" => (T::Card, &["masked"]),
            other => {
                return Err(ContentError::new(
                    "type",
                    ParseError::new(
                        "invalid_identifier_type",
                        format!("'{other}' is not a type of identifier"),
                    ),
                ))
            }
        };
        // A field of another type is refused, as unknown fields are
        // everywhere else in the content: it is most likely a mistake
        // (`value` for a phone number) that would otherwise be dropped.
        if let Some((field, _)) = raw
            .given()
            .into_iter()
            .find(|(f, given)| *given && !allowed.contains(f))
        {
            return Err(ContentError::new(
                field,
                ParseError::new(
                    "unknown_field",
                    format!("an identifier of type {kind} has no field `{field}`"),
                ),
            ));
        }
        let required = |field: &'static str, v: Option<String>| {
            v.ok_or_else(|| {
                ContentError::new(
                    field,
                    ParseError::new(
                        "required",
                        format!("an identifier of type {kind} needs `{field}`"),
                    ),
                )
            })
        };
        let at = |field: &'static str| move |e: ParseError| ContentError::new(field, e);
        match tag {
            T::Ip => {
                let address = required("address", raw.address)?;
                let port = match raw.port {
                    None => None,
                    Some(p) => Some(u16::try_from(p).map_err(|_| {
                        ContentError::new(
                            "port",
                            ParseError::new("invalid_port", "the port is a number from 0 to 65535"),
                        )
                    })?),
                };
                // Missing time: the constructor's own code, on the field
                // the sender has to add.
                let when = match raw.at {
                    None => None,
                    Some(t) => Some(parse_date_time(&t).map_err(at("at"))?),
                };
                Self::ip(&address, port, when).map_err(|e| {
                    let field = if e.code == "ip_without_time" {
                        "at"
                    } else {
                        "address"
                    };
                    ContentError::new(field, e)
                })
            }
            T::Email => Email::parse(&required("address", raw.address)?)
                .map(|address| Self::Email { address })
                .map_err(at("address")),
            T::Phone => Self::phone(&required("number", raw.number)?).map_err(at("number")),
            T::Url => Self::url(&required("url", raw.url)?).map_err(at("url")),
            T::Domain => Self::domain(&required("name", raw.name)?).map_err(at("name")),
            T::Account => {
                let service = required("service", raw.service)?;
                let handle = required("handle", raw.handle)?;
                Self::account(&service, &handle).map_err(|e| {
                    // The constructor has one code for both parts; point at
                    // the part that is wrong (the same limits as there).
                    let s = service.trim();
                    let field = if s.is_empty() || s.len() > 100 {
                        "service"
                    } else {
                        "handle"
                    };
                    ContentError::new(field, e)
                })
            }
            T::Imei => Self::imei(&required("value", raw.value)?).map_err(at("value")),
            T::Imsi => Self::imsi(&required("value", raw.value)?).map_err(at("value")),
            T::Iban => Self::iban(&required("value", raw.value)?).map_err(at("value")),
            T::Crypto => {
                let chain = required("chain", raw.chain)?
                    .parse::<Chain>()
                    .map_err(at("chain"))?;
                Self::crypto(chain, &required("address", raw.address)?).map_err(at("address"))
            }
            T::Card => {
                Self::payment_card_masked(&required("masked", raw.masked)?).map_err(at("masked"))
            }
        }
    }
}

fn domain_ok(name: &str) -> Result<(), ParseError> {
    let ok = name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(ParseError::new(
            "invalid_domain",
            format!("'{name}' is not a domain name"),
        ))
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn an_ip_address_needs_a_time() {
        let e = Identifier::ip("203.0.113.5", Some(443), None).unwrap_err();
        assert_eq!(e.code, "ip_without_time");
        let id = Identifier::ip(
            "203.0.113.5",
            Some(51000),
            Some(datetime!(2026-11-20 04:10 +01:00)),
        )
        .unwrap();
        assert_eq!(id.to_string(), "203.0.113.5:51000 (2026-11-20T03:10:00Z)");
        assert!(Identifier::ip("300.1.1.1", None, Some(datetime!(2026-11-20 04:10 UTC))).is_err());
    }

    #[test]
    fn checksums() {
        assert!(Identifier::iban("FR76 3000 6000 0112 3456 7890 189").is_ok());
        assert!(Identifier::iban("FR76 3000 6000 0112 3456 7890 188").is_err());
        assert!(Identifier::imei("490154203237518").is_ok());
        assert!(Identifier::imei("490154203237519").is_err());
        let card = Identifier::payment_card("4111 1111 1111 1111").unwrap();
        assert_eq!(
            card,
            Identifier::PaymentCard {
                masked: "411111******1111".into()
            }
        );
        assert!(Identifier::payment_card("4111 1111 1111 1112").is_err());
        assert!(Identifier::payment_card("411111******1111").is_ok());
    }

    #[test]
    fn shapes() {
        assert!(Identifier::phone("+33 1 23 45 67 89").is_ok());
        assert!(Identifier::phone("01 23 45 67 89").is_err());
        assert!(Identifier::url("https://example.org/path?q=1").is_ok());
        assert!(Identifier::url("ftp://example.org").is_err());
        assert!(Identifier::domain("Example.ORG.").is_ok());
        assert!(Identifier::domain("nodot").is_err());
        assert!(Identifier::crypto(
            Chain::Ethereum,
            "0x52908400098527886E0F7030069857D2E4169EE7"
        )
        .is_ok());
        assert!(
            Identifier::crypto(Chain::Bitcoin, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
                .is_ok()
        );
        assert!(Identifier::crypto(Chain::Bitcoin, "0xdeadbeef").is_err());
        assert!(Identifier::imsi("208150123456789").is_ok());
        assert!(Identifier::account("ExampleSocial", "@someone").is_ok());
    }
}
