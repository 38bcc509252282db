//! The legal-basis and dual-criminality helper used when drafting a
//! request: given the requesting and requested countries, an offence
//! category, a measure and a date — the instruments both are bound by on
//! that date, whether the conduct is criminalised in the requested country
//! (with the provision), whether preservation and the measure exist there,
//! and what its central authority needs.

use serde::Serialize;
use time::Date;

use crate::bundle::{
    CountryProfile, MlaRequirements, OffenceCategory, OffenceProvision, PowerEntry,
    ProceduralPower, Treaty, TreatyParty,
};
use crate::Localised;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperQuestion {
    pub requesting: String,
    pub requested: String,
    pub offence: Option<String>,
    pub measure: Option<ProceduralPower>,
    pub on: Date,
}

/// An instrument and where each State stands with it.
#[derive(Debug, Clone, Serialize)]
pub struct SharedInstrument {
    pub treaty: String,
    pub title: Localised,
    /// Both States are bound on the date asked.
    pub binds_both: bool,
    pub requesting: Option<TreatyParty>,
    pub requested: Option<TreatyParty>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Criminalisation {
    /// The requested country has provisions mapped to the offence.
    Criminalised { provisions: Vec<OffenceProvision> },
    /// The repository maps no provision of that country to the offence
    /// (which does not prove the conduct is lawful there).
    NotRecorded,
    /// No offence was given.
    NotAsked,
}

#[derive(Debug, Clone, Serialize)]
pub struct HelperAnswer {
    pub instruments: Vec<SharedInstrument>,
    pub criminalisation: Criminalisation,
    /// Whether dual criminality may be required for the measure: not for
    /// expedited preservation (Budapest art. 29(3)), possibly for other
    /// coercive measures (art. 25(5)).
    pub dual_criminality_required: bool,
    pub preservation: Option<PowerEntry>,
    pub measure: Option<PowerEntry>,
    pub mla: Option<MlaRequirements>,
    pub requested_profile: bool,
    /// Warnings to show the drafter, as stable codes.
    pub warnings: Vec<&'static str>,
}

pub fn assess(
    q: &HelperQuestion,
    treaties: &[Treaty],
    profiles: &[CountryProfile],
    offences: &[OffenceCategory],
) -> HelperAnswer {
    let mut instruments: Vec<SharedInstrument> = treaties
        .iter()
        .filter_map(|t| {
            let a = t.party(&q.requesting).cloned();
            let b = t.party(&q.requested).cloned();
            if a.is_none() && b.is_none() {
                return None;
            }
            let binds_both = a.as_ref().is_some_and(|p| p.bound_on(q.on))
                && b.as_ref().is_some_and(|p| p.bound_on(q.on));
            Some(SharedInstrument {
                treaty: t.id.clone(),
                title: t.title.clone(),
                binds_both,
                requesting: a,
                requested: b,
            })
        })
        .collect();
    instruments.sort_by_key(|i| (!i.binds_both, i.treaty.clone()));
    let criminalisation = match &q.offence {
        None => Criminalisation::NotAsked,
        Some(id) => {
            let provisions: Vec<OffenceProvision> = offences
                .iter()
                .filter(|o| &o.id == id)
                .flat_map(|o| o.provisions.iter())
                .filter(|p| p.country.as_deref() == Some(q.requested.as_str()))
                .cloned()
                .collect();
            if provisions.is_empty() {
                Criminalisation::NotRecorded
            } else {
                Criminalisation::Criminalised { provisions }
            }
        }
    };
    let profile = profiles.iter().find(|p| p.country == q.requested);
    let preservation = profile
        .and_then(|p| p.power(ProceduralPower::ExpeditedPreservation))
        .cloned();
    let measure = q
        .measure
        .and_then(|m| profile.and_then(|p| p.power(m)))
        .cloned();
    let dual_criminality_required =
        !matches!(q.measure, Some(ProceduralPower::ExpeditedPreservation));
    let mut warnings = Vec::new();
    if !instruments.iter().any(|i| i.binds_both) {
        warnings.push("no-shared-instrument");
    }
    // Reservations can narrow what the treaty gives (Argentina, for
    // instance, kept dual criminality for preservation under art. 29(4)).
    if instruments.iter().any(|i| {
        i.binds_both
            && i.requested
                .as_ref()
                .is_some_and(|p| p.reservations.is_some() || p.declarations.is_some())
    }) {
        warnings.push("requested-reservations");
    }
    if matches!(criminalisation, Criminalisation::NotRecorded) && dual_criminality_required {
        warnings.push("dual-criminality-unknown");
    }
    if profile.is_none() {
        warnings.push("no-country-profile");
    }
    if preservation
        .as_ref()
        .is_some_and(|p| p.exists == Some(false))
    {
        warnings.push("no-preservation-power");
    }
    if measure.as_ref().is_some_and(|p| p.exists == Some(false)) {
        warnings.push("measure-not-available");
    }
    HelperAnswer {
        instruments,
        criminalisation,
        dual_criminality_required,
        preservation,
        measure,
        mla: profile.map(|p| p.mla.clone()),
        requested_profile: profile.is_some(),
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::parse;

    fn d(s: &str) -> Date {
        Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
    }

    #[test]
    fn shared_instruments_on_a_date_and_dual_criminality() {
        let b = parse("h.json", r#"{"format":"entraide-knowledge/1",
          "treaties":[{"id":"coe-ets-185","title":{"en":"Convention on Cybercrime"},
            "parties":[{"country":"FR","in_force":"2006-05-01"},{"country":"AR","in_force":"2018-10-01"}]}],
          "country_profiles":[{"country":"AR","name":{"en":"Argentina"},
            "powers":[{"power":"expedited_preservation","exists":true,"citation":"Ley 27.411"},{"power":"interception","exists":true}],
            "mla":{"central_authority":"Ministerio de Relaciones Exteriores","languages":["es"]}}],
          "offences":[{"id":"illegal-access","labels":{"en":"Illegal access"},
            "provisions":[{"country":"AR","ref":"LEY-11179:153-bis","citation":"Código Penal, art. 153 bis"}]}]}"#).unwrap();
        let q = |on: &str, offence: &str, m| HelperQuestion {
            requesting: "FR".into(),
            requested: "AR".into(),
            offence: Some(offence.into()),
            measure: Some(m),
            on: d(on),
        };
        let a = assess(
            &q(
                "2020-01-01",
                "illegal-access",
                ProceduralPower::ExpeditedPreservation,
            ),
            &b.treaties,
            &b.country_profiles,
            &b.offences,
        );
        assert!(a.instruments[0].binds_both);
        assert!(!a.dual_criminality_required);
        assert!(
            matches!(a.criminalisation, Criminalisation::Criminalised { ref provisions } if provisions[0].citation.contains("153 bis"))
        );
        assert_eq!(a.preservation.unwrap().exists, Some(true));
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
        let before = assess(
            &q("2018-09-30", "ransomware", ProceduralPower::Interception),
            &b.treaties,
            &b.country_profiles,
            &b.offences,
        );
        assert!(!before.instruments[0].binds_both);
        assert!(before.dual_criminality_required);
        assert_eq!(
            before.warnings,
            vec!["no-shared-instrument", "dual-criminality-unknown"]
        );
    }
}
