//! Typed reading of one TOML table, keeping the dotted path of every value so that each error
//! names the exact field (`users[1].dept_id_list[0]`). Unknown keys are refused up front.

use toml::{Table, Value};

use super::DirectoryError;

/// The not-yet-read keys of one TOML table, and where that table sits in the document.
pub(super) struct Fields {
    path: String,
    table: Table,
}

impl Fields {
    /// Wraps `value`, which must be a table whose keys are all in `known`.
    pub(super) fn new(path: String, value: Value, known: &'static [&'static str]) -> Result<Self, DirectoryError> {
        let Value::Table(table) = value else {
            return Err(field_error(&path, format!("expected a table, found {}", kind(&value))));
        };
        let fields = Self { path, table };
        if let Some(unknown) = fields.table.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(field_error(
                &fields.path_of(unknown),
                format!("unknown field; expected one of: {}", known.join(", ")),
            ));
        }
        Ok(fields)
    }

    /// The path of `key` inside this table.
    fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(super) fn required_str(&mut self, key: &str) -> Result<String, DirectoryError> {
        self.optional_str(key)?
            .ok_or_else(|| field_error(&self.path_of(key), "is required".to_owned()))
    }

    /// A string that, when present, must not be empty.
    pub(super) fn optional_str(&mut self, key: &str) -> Result<Option<String>, DirectoryError> {
        match self.table.remove(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(field_error(&self.path_of(key), "must not be empty".to_owned()))
            }
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, "a string", &other)),
        }
    }

    pub(super) fn optional_bool(&mut self, key: &str) -> Result<Option<bool>, DirectoryError> {
        match self.table.remove(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(b)),
            Some(other) => Err(self.wrong_type(key, "true or false", &other)),
        }
    }

    pub(super) fn required_int(&mut self, key: &str) -> Result<i64, DirectoryError> {
        self.optional_int(key)?
            .ok_or_else(|| field_error(&self.path_of(key), "is required".to_owned()))
    }

    pub(super) fn optional_int(&mut self, key: &str) -> Result<Option<i64>, DirectoryError> {
        match self.table.remove(key) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(i)),
            Some(other) => Err(self.wrong_type(key, "an integer", &other)),
        }
    }

    /// An array of integers; absent means empty.
    pub(super) fn int_list(&mut self, key: &str) -> Result<Vec<i64>, DirectoryError> {
        self.list(key)?
            .into_iter()
            .map(|(path, value)| match value {
                Value::Integer(i) => Ok(i),
                other => Err(field_error(
                    &path,
                    format!("expected an integer, found {}", kind(&other)),
                )),
            })
            .collect()
    }

    /// An array of non-empty strings; absent means empty.
    pub(super) fn str_list(&mut self, key: &str) -> Result<Vec<String>, DirectoryError> {
        self.list(key)?
            .into_iter()
            .map(|(path, value)| match value {
                Value::String(s) if s.trim().is_empty() => Err(field_error(&path, "must not be empty".to_owned())),
                Value::String(s) => Ok(s),
                other => Err(field_error(&path, format!("expected a string, found {}", kind(&other)))),
            })
            .collect()
    }

    /// An array of tables (`[[key]]`), each checked against `known`; absent means empty.
    pub(super) fn table_list(
        &mut self,
        key: &str,
        known: &'static [&'static str],
    ) -> Result<Vec<Fields>, DirectoryError> {
        self.list(key)?
            .into_iter()
            .map(|(path, value)| Fields::new(path, value, known))
            .collect()
    }

    /// The elements of the array at `key`, each with its own path.
    fn list(&mut self, key: &str) -> Result<Vec<(String, Value)>, DirectoryError> {
        let path = self.path_of(key);
        match self.table.remove(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("{path}[{i}]"), v))
                .collect()),
            Some(other) => Err(self.wrong_type(key, "an array", &other)),
        }
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> DirectoryError {
        field_error(
            &self.path_of(key),
            format!("expected {expected}, found {}", kind(found)),
        )
    }
}

pub(super) fn field_error(path: &str, message: String) -> DirectoryError {
    DirectoryError::Field {
        path: path.to_owned(),
        message,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}
