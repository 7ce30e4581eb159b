//! The practice's capture settings: what the browser's image pipeline aims
//! for, the body sites offered first, and what a photo needs before commit.

use serde::Deserialize;

use super::vars::Vars;
use super::ConfigError;
use crate::model::{CommitRule, ConsentRule};
use crate::pipeline::Targets;

/// `PIPELINE_*`, `BODY_SITE_TEMPLATES`, `COMMIT_RULE` and `CONSENT_RULE`.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub pipeline: Targets,
    pub body_site_templates: Vec<String>,
    pub commit_rule: CommitRule,
    pub consent_rule: ConsentRule,
}

#[derive(Deserialize)]
pub(super) struct PipelineDefaults {
    max_edge: u64,
    max_bytes: u64,
    min_quality_percent: u64,
    ssim_floor: f32,
}

#[derive(Deserialize)]
pub(super) struct Defaults {
    body_site_templates: Vec<String>,
    commit_rule: String,
    consent_rule: String,
}

pub(super) fn read<F: Fn(&str) -> Option<String>>(
    v: &Vars<F>,
    pd: &PipelineDefaults,
    d: &Defaults,
) -> Result<CaptureConfig, ConfigError> {
    let min_quality = v.u64_or("PIPELINE_MIN_QUALITY_PERCENT", pd.min_quality_percent)?;
    if !(10..=95).contains(&min_quality) {
        return Err(ConfigError::Invalid {
            var: "PIPELINE_MIN_QUALITY_PERCENT",
            reason: "must be between 10 and 95".into(),
        });
    }
    let max_edge = v.u64_or("PIPELINE_MAX_EDGE", pd.max_edge)?;
    if !(256..=8192).contains(&max_edge) {
        return Err(ConfigError::Invalid {
            var: "PIPELINE_MAX_EDGE",
            reason: "must be 256 to 8192 pixels".into(),
        });
    }
    let pipeline = Targets {
        max_edge: max_edge as u32,
        max_bytes: v.u64_or("PIPELINE_MAX_BYTES", pd.max_bytes)?,
        min_quality: min_quality as f32 / 100.0,
        ssim_floor: v.decimal_or("PIPELINE_SSIM_FLOOR", pd.ssim_floor)?,
        ..Targets::default()
    };
    if pipeline.ssim_floor != 0.0 && !(0.9..1.0).contains(&pipeline.ssim_floor) {
        return Err(ConfigError::Invalid {
            var: "PIPELINE_SSIM_FLOOR",
            reason: "must be 0 (off) or from 0.9 to below 1".into(),
        });
    }
    // The upper bound (UPLOAD_MAX_BYTES) is checked where both are known.
    if pipeline.max_bytes < 50_000 {
        return Err(ConfigError::Invalid {
            var: "PIPELINE_MAX_BYTES",
            reason: "must be at least 50000 and at most UPLOAD_MAX_BYTES".into(),
        });
    }

    let body_site_templates: Vec<String> = match v.get("BODY_SITE_TEMPLATES") {
        Some(list) => list.split(',').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect(),
        None => d.body_site_templates.clone(),
    };
    if let Some(unknown) = body_site_templates.iter().find(|c| crate::model::body_site(c).is_none()) {
        return Err(ConfigError::Invalid {
            var: "BODY_SITE_TEMPLATES",
            reason: format!("{unknown} is not on the verified SNOMED body-site list"),
        });
    }
    let rule = v.get("COMMIT_RULE").unwrap_or_else(|| d.commit_rule.clone());
    let commit_rule = CommitRule::parse(&rule).ok_or_else(|| ConfigError::Invalid {
        var: "COMMIT_RULE",
        reason: "expected bodySiteOrDescription, bodySite, description or nothing".into(),
    })?;
    let rule = v.get("CONSENT_RULE").unwrap_or_else(|| d.consent_rule.clone());
    let consent_rule = ConsentRule::parse(&rule).ok_or_else(|| ConfigError::Invalid {
        var: "CONSENT_RULE",
        reason: "expected required or optional".into(),
    })?;
    Ok(CaptureConfig { pipeline, body_site_templates, commit_rule, consent_rule })
}
