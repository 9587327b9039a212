//! Reports: SQL definitions in `reports/` run over the warehouse, written as
//! CSV files, and one self-contained HTML audit report.

pub mod html;
pub mod model;
pub mod svg;
