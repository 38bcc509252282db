//! Identifiers named in requests. Each is checked for shape (and checksum
//! where one exists) at the edge: a provider cannot act on an IP address
//! without a time, or on an IBAN with a typo.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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

/// One identifier, with what a provider needs to find the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
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
