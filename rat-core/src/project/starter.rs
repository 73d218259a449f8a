//! Starter code for a new pipeline: a working SELECT (or Python script)
//! with the annotations its merge strategy needs, so "new pipeline" in any
//! face (the web IDE's form, a script) begins from something that runs.

use super::{Language, MergeStrategy, PipelineFiles};

impl PipelineFiles {
    /// The files of a new pipeline written in `language` with `strategy`:
    /// code that validates and runs as it is, annotated with the keys the
    /// strategy needs (`unique_key`, `partition_column`).
    ///
    /// ```
    /// use rat_core::project::{Language, MergeStrategy, PipelineFiles};
    ///
    /// let files = PipelineFiles::starter(Language::Sql, MergeStrategy::Incremental);
    /// let (file, code) = files.code().unwrap();
    /// assert_eq!(file, "pipeline.sql");
    /// assert!(code.contains("-- @merge_strategy: incremental\n-- @unique_key: id\n"));
    /// ```
    pub fn starter(language: Language, strategy: MergeStrategy) -> Self {
        let comment = match language {
            Language::Sql => "--",
            Language::Python => "#",
        };
        let mut header = vec![format!("@merge_strategy: {}", strategy.as_str())];
        if matches!(
            strategy,
            MergeStrategy::Incremental | MergeStrategy::DeleteInsert | MergeStrategy::Scd2
        ) {
            header.push("@unique_key: id".into());
        }
        if strategy == MergeStrategy::Snapshot {
            header.push("@partition_column: day".into());
        }
        header.push("@description: What this table holds (shown in the explorer).".into());
        header.push(String::new());
        let select = "SELECT 1 AS id, 'hello' AS greeting, current_date AS day";
        let body = match language {
            Language::Sql => format!(
                "{comment} A starter: replace the SELECT with yours; read other tables by\n\
                 {comment} writing ref('layer.name') between double braces.\n{select}\n"
            ),
            Language::Python => format!(
                "{comment} A starter: set `result` to what the table should hold (a DuckDB\n\
                 {comment} relation, a pyarrow Table or a pandas DataFrame); read other tables\n\
                 {comment} with duckdb_conn.sql(f\"SELECT * FROM {{ref('layer.name')}}\").\n\
                 result = duckdb_conn.sql(\"{select}\")\n"
            ),
        };
        let mut code: String = header
            .iter()
            .map(|line| match line.as_str() {
                "" => format!("{comment}\n"),
                line => format!("{comment} {line}\n"),
            })
            .collect();
        code.push_str(&body);
        let python = language == Language::Python;
        PipelineFiles {
            sql: (!python).then(|| code.clone()),
            python: python.then_some(code),
            ..PipelineFiles::default()
        }
    }
}
