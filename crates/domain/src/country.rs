//! ISO 3166-1 alpha-2 country codes. Only officially assigned codes are
//! accepted: a request addressed to "UK" or "EU" must be caught at the edge,
//! not by a foreign central authority.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// The 249 officially assigned ISO 3166-1 alpha-2 codes, sorted.
const ASSIGNED: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Accepts an assigned code in either case ("fr", "FR").
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let upper = input.trim().to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if bytes.len() == 2
            && bytes.iter().all(u8::is_ascii_uppercase)
            && ASSIGNED.split(' ').any(|c| c == upper)
        {
            Ok(Self([bytes[0], bytes[1]]))
        } else {
            Err(ParseError::new(
                "invalid_country",
                format!(
                    "'{}' is not an ISO 3166-1 alpha-2 country code",
                    input.trim()
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII upper-case letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    pub fn all() -> impl Iterator<Item = CountryCode> {
        ASSIGNED
            .split(' ')
            .map(|c| c.as_bytes())
            .map(|b| CountryCode([b[0], b[1]]))
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CountryCode {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_every_assigned_code_once_in_order() {
        let codes: Vec<&str> = ASSIGNED.split(' ').collect();
        assert_eq!(codes.len(), 249);
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, codes);
    }

    #[test]
    fn accepts_assigned_codes_in_any_case() {
        assert_eq!(
            CountryCode::parse("fr").map(|c| c.to_string()),
            Ok("FR".into())
        );
        assert_eq!(
            CountryCode::parse(" AR ").map(|c| c.to_string()),
            Ok("AR".into())
        );
        assert!(CountryCode::parse("GB").is_ok());
    }

    #[test]
    fn refuses_unassigned_and_malformed_codes() {
        for bad in ["UK", "EU", "XX", "FRA", "F", "", "1A", "é1"] {
            let err = CountryCode::parse(bad).err();
            assert_eq!(err.map(|e| e.code), Some("invalid_country"), "{bad}");
        }
    }
}
