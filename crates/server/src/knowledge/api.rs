//! The knowledge repository's JSON API: `/api/v1/knowledge/...` (search,
//! documents, comparison, legal-basis helper) and the parameters the pages share.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use entraide_domain::Locale;
use entraide_knowledge::bundle::ProceduralPower;
use entraide_knowledge::compare::Subject;
use entraide_knowledge::helper::HelperQuestion;
use entraide_knowledge::ContentType;
use entraide_search::query::Field;
use entraide_search::SearchRequest;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::http::json_response;
use crate::http::{ApiPath, ApiQuery};
use crate::knowledge;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words, "phrases", AND / OR / NOT, field:value (country, type, lang,
    /// instrument, offence, year, number, title, text).
    pub q: Option<String>,
    pub country: Option<String>,
    /// legislation, treaty, case-law, country-profile, good-practice, offence.
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = content_type_filter)]
    pub content_type: Option<String>,
    pub lang: Option<String>,
    pub instrument: Option<String>,
    pub offence: Option<String>,
    pub year: Option<String>,
    /// 1-100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// Hits to skip (at most 10,000 are skipped).
    pub offset: Option<usize>,
}

/// One of the content types, or empty (no filter): the values
/// `ContentType::parse` takes.
fn content_type_filter() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    one_of_or_empty(ContentType::ALL.iter().map(|t| t.as_str()))
}

/// A procedural power, or empty (any).
fn measure_filter() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    one_of_or_empty(ProceduralPower::ALL.iter().map(|p| p.as_str()))
}

fn one_of_or_empty<'a>(
    values: impl Iterator<Item = &'a str>,
) -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(std::iter::once("").chain(values)))
        .into()
}

/// `offence:<category>` or `power:<procedural power>`, as `Subject::parse`
/// takes them.
fn subject_pattern() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let powers: Vec<&str> = ProceduralPower::ALL.iter().map(|p| p.as_str()).collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("`offence:<category>` or `power:<procedural power>`."))
        .pattern(Some(format!(
            "^(offence:[\\s\\S]+|power:({}))$",
            powers.join("|")
        )))
        .into()
}

impl SearchParams {
    pub(crate) fn request(&self, lang: &str) -> AppResult<SearchRequest> {
        let mut filters = Vec::new();
        let mut add = |f: Field, v: &Option<String>| {
            if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                filters.push((f, v.to_owned()));
            }
        };
        add(Field::Country, &self.country);
        add(Field::Type, &self.content_type);
        add(Field::Lang, &self.lang);
        add(Field::Instrument, &self.instrument);
        add(Field::Offence, &self.offence);
        add(Field::Year, &self.year);
        if let Some(t) = self.content_type.as_deref().filter(|t| !t.is_empty()) {
            if ContentType::parse(t).is_none() {
                return Err(AppError::BadRequest {
                    code: "invalid_content_type",
                    detail: format!("unknown content type '{t}'"),
                });
            }
        }
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(AppError::BadRequest {
                code: "invalid_limit",
                detail: "limit must be between 1 and 100".into(),
            });
        }
        Ok(SearchRequest {
            query: self.q.clone().unwrap_or_default(),
            filters,
            limit,
            offset: self.offset.unwrap_or(0).min(10_000),
            lang: lang.to_owned(),
        })
    }
}

/// Searches legislation, treaties, case law, country profiles, good
/// practices and offence categories.
#[utoipa::path(get, path = "/api/v1/knowledge/search", tag = "knowledge", security(("bearer" = [])),
    params(SearchParams),
    responses((status = 200, body = Object, description = "Hits (grouped by instrument), facets and the offence categories the query named"),
              (status = 400, description = "`query_syntax` (with its position), `invalid_content_type` or `invalid_limit`")))]
pub async fn api_search(
    State(app): State<AppState>,
    locale: axum::Extension<Locale>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> AppResult<Response> {
    let results = knowledge::search(&app, &p.request(locale.0.as_str())?).await?;
    Ok(json_response(StatusCode::OK, &results))
}

/// A document (an instrument with the list of its articles, an article, a
/// treaty, a country profile...) by its permanent identifier.
#[utoipa::path(get, path = "/api/v1/knowledge/documents/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = String, Path, description = "e.g. LEGITEXT000006070719:323-1, treaty:coe-ets-185, country:FR", example = "treaty:coe-ets-185")),
    responses((status = 200, body = Object, description = "The document"), (status = 404, description = "No such document")))]
pub async fn api_document(
    State(app): State<AppState>,
    locale: axum::Extension<Locale>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Response> {
    let view = knowledge::document(&app, &id, locale.0.as_str()).await?;
    Ok(json_response(StatusCode::OK, &view))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompareParams {
    /// `offence:<category>` or `power:<procedural power>`.
    #[param(required = true, schema_with = subject_pattern, example = "offence:illegal-access")]
    pub subject: Option<String>,
    /// 1 to 12 ISO 3166-1 alpha-2 codes, separated by commas or spaces.
    #[param(required = true, schema_with = country_list, example = "FR,ES")]
    pub countries: Option<String>,
    /// `json` (default) or `csv`.
    #[param(value_type = Option<String>, pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

pub(crate) fn parse_countries(list: &str) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for c in list
        .split([',', ' '])
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let code = entraide_domain::CountryCode::parse(c).map_err(|e| AppError::BadRequest {
            code: "invalid_country",
            detail: e.to_string(),
        })?;
        if !out.contains(&code.as_str().to_owned()) {
            out.push(code.as_str().to_owned());
        }
    }
    if out.is_empty() || out.len() > 12 {
        return Err(AppError::BadRequest {
            code: "invalid_countries",
            detail: "name between 1 and 12 countries".into(),
        });
    }
    Ok(out)
}

pub(crate) fn parse_subject(s: Option<&str>) -> AppResult<Subject> {
    s.and_then(Subject::parse)
        .ok_or_else(|| AppError::BadRequest {
            code: "invalid_subject",
            detail: "subject must be offence:<category> or power:<procedural power>".into(),
        })
}

/// Provisions side by side across countries, as JSON or CSV.
#[utoipa::path(get, path = "/api/v1/knowledge/compare", tag = "knowledge", security(("bearer" = [])),
    params(CompareParams),
    responses((status = 200, description = "One column per country: JSON, or CSV with `format=csv`",
               content((Object = "application/json"), (String = "text/csv"))),
              (status = 400, description = "`invalid_subject`, `invalid_country`, `invalid_countries` (not 1 to 12) or `invalid_format`")))]
pub async fn api_compare(
    State(app): State<AppState>,
    locale: axum::Extension<Locale>,
    ApiQuery(p): ApiQuery<CompareParams>,
) -> AppResult<Response> {
    let subject = parse_subject(p.subject.as_deref())?;
    let countries = parse_countries(p.countries.as_deref().unwrap_or(""))?;
    let c = knowledge::comparison(&app, &subject, &countries).await?;
    match p.format.as_deref() {
        Some("csv") => Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"comparison.csv\"".to_owned(),
                ),
            ],
            knowledge::comparison_csv(&c, locale.0.as_str()),
        )
            .into_response()),
        None | Some("json") => Ok(json_response(StatusCode::OK, &c)),
        Some(other) => Err(AppError::BadRequest {
            code: "invalid_format",
            detail: format!("unknown format '{other}' (json or csv)"),
        }),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HelperParams {
    /// ISO 3166-1 alpha-2 code of the requesting country (required).
    #[param(required = true, value_type = entraide_proto::schema::CountryCodeName, example = "FR")]
    pub requesting: Option<String>,
    /// ISO 3166-1 alpha-2 code of the requested country (required).
    #[param(required = true, value_type = entraide_proto::schema::CountryCodeName, example = "ES")]
    pub requested: Option<String>,
    /// An offence category.
    pub offence: Option<String>,
    /// A procedural power (expedited_preservation, production_order...),
    /// or empty (any).
    #[param(schema_with = measure_filter)]
    pub measure: Option<String>,
    /// YYYY-MM-DD; default (or empty) today.
    #[param(schema_with = date_or_empty)]
    pub date: Option<String>,
}

/// Country codes separated by commas or blanks, as `parse_countries`
/// splits them (the codes must also be assigned ones, 1 to 12 of them).
fn country_list() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(
            r"^[,\s]*[A-Za-z]{2}([,\s]+[A-Za-z]{2})*[,\s]*$".to_owned(),
        ))
        .into()
}

fn date_or_empty() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(0)),
        )
        .into()
}

pub(crate) fn question(p: &HelperParams) -> AppResult<HelperQuestion> {
    let country = |v: &Option<String>, field: &str| -> AppResult<String> {
        entraide_domain::CountryCode::parse(v.as_deref().unwrap_or(""))
            .map(|c| c.as_str().to_owned())
            .map_err(|_| AppError::BadRequest {
                code: "invalid_country",
                detail: format!("{field} must be an ISO 3166-1 alpha-2 country code"),
            })
    };
    let measure = match p.measure.as_deref().filter(|m| !m.is_empty()) {
        None => None,
        Some(m) => Some(
            ProceduralPower::parse(m).ok_or_else(|| AppError::BadRequest {
                code: "invalid_measure",
                detail: format!("unknown measure '{m}'"),
            })?,
        ),
    };
    let on = match p.date.as_deref().filter(|d| !d.is_empty()) {
        None => OffsetDateTime::now_utc().date(),
        Some(d) => time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| AppError::BadRequest {
                code: "invalid_date",
                detail: "date must be YYYY-MM-DD".into(),
            })?,
    };
    Ok(HelperQuestion {
        requesting: country(&p.requesting, "requesting")?,
        requested: country(&p.requested, "requested")?,
        offence: p.offence.clone().filter(|o| !o.is_empty()),
        measure,
        on,
    })
}

/// Legal basis and dual criminality for a request between two countries.
#[utoipa::path(get, path = "/api/v1/knowledge/helper", tag = "knowledge", security(("bearer" = [])),
    params(HelperParams),
    responses((status = 200, body = Object, description = "Shared instruments, criminalisation, powers and central-authority requirements"),
              (status = 400, description = "`invalid_country`, `invalid_measure` or `invalid_date`")))]
pub async fn api_helper(
    State(app): State<AppState>,
    ApiQuery(p): ApiQuery<HelperParams>,
) -> AppResult<Response> {
    let answer = knowledge::legal_basis(&app, &question(&p)?).await?;
    Ok(json_response(StatusCode::OK, &answer))
}

// ---- Pages ----
