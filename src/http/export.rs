//! Tables for the organisers' spreadsheets: the same rows as CSV (UTF-8 with
//! a byte-order mark, so Excel reads Chinese correctly) or as an XLSX
//! workbook, chosen by the `Accept` header (or `?format=csv|xlsx`).
//!
//! CSV goes through the `csv` crate, XLSX through `rust_xlsxwriter`: one
//! sheet of strings and numbers, its ZIP parts stored uncompressed.

use std::io::{Cursor, Read, Write};

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::header};
use rust_xlsxwriter::{Workbook, XlsxError};
use utoipa::ToSchema;
use zip::write::SimpleFileOptions;

use super::error::ApiError;

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// One cell: text, or a number that a spreadsheet can add up.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
}

impl From<String> for Cell {
    fn from(v: String) -> Self {
        Cell::Text(v)
    }
}

impl From<&str> for Cell {
    fn from(v: &str) -> Self {
        Cell::Text(v.to_owned())
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Number(v as f64)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Text(String::new()), Into::into)
    }
}

/// A sheet: a header row and data rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Which file the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

// Only the OpenAPI document's name for `?format=`: the query structs keep
// the parameter as text and `requested` reads it, so another value is 400
// `invalid_format` rather than a query that does not parse.
/// The file an export answers with instead of JSON.
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ExportFormat {
    /// The spreadsheet as CSV, UTF-8 with a byte-order mark.
    Csv,
    /// The spreadsheet as an XLSX workbook.
    Xlsx,
    /// The usual JSON answer, as without `format`.
    Json,
}

/// The export format the request asks for, if any: `?format=csv|xlsx`, or
/// `Accept: text/csv` / the XLSX media type. `None` means JSON; another
/// `format` is 400 `invalid_format`.
pub fn requested(req: &HttpRequest) -> Result<Option<Format>, ApiError> {
    for pair in req.query_string().split('&') {
        if let Some(value) = pair.strip_prefix("format=") {
            return match value {
                "csv" => Ok(Some(Format::Csv)),
                "xlsx" => Ok(Some(Format::Xlsx)),
                "json" => Ok(None),
                _ => Err(ApiError::bad_request(
                    "invalid_format",
                    "format is csv, xlsx or json",
                )),
            };
        }
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(if accept.contains(XLSX) {
        Some(Format::Xlsx)
    } else if accept.contains("text/csv") {
        Some(Format::Csv)
    } else {
        None
    })
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// The file as an attachment named `<name>.csv` or `<name>.xlsx`.
    pub fn respond(&self, format: Format, name: &str) -> HttpResponse {
        let (content_type, extension, body) = match format {
            Format::Csv => ("text/csv; charset=utf-8", "csv", self.to_csv().into_bytes()),
            Format::Xlsx => match self.xlsx() {
                Ok(bytes) => (XLSX, "xlsx", bytes),
                Err(e) => return ApiError::internal(format!("xlsx {name}: {e}")).error_response(),
            },
        };
        HttpResponse::Ok()
            .content_type(content_type)
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{extension}\""),
            ))
            .body(body)
    }

    /// UTF-8 with a byte-order mark, CRLF line ends, every cell defused
    /// (see [`defuse`]) and quoted when it holds a comma, quote or line break.
    pub fn to_csv(&self) -> String {
        let header = self.headers.clone();
        let rows = self
            .rows
            .iter()
            .map(|row| row.iter().map(cell_text).collect::<Vec<_>>());
        let bytes = csv_bytes(true, std::iter::once(header).chain(rows));
        // Every cell was a String, so the file is UTF-8.
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// One sheet, `Sheet1`: the header row, then the rows, text as text and
    /// numbers as numbers.
    ///
    /// # Panics
    ///
    /// When the table is larger than a sheet holds (1,048,576 rows or
    /// 16,384 columns); [`Table::respond`] answers 500 instead.
    pub fn to_xlsx(&self) -> Vec<u8> {
        self.xlsx()
            .unwrap_or_else(|e| panic!("the table does not fit in a sheet: {e}"))
    }

    fn xlsx(&self) -> Result<Vec<u8>, XlsxError> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        for (c, header) in self.headers.iter().enumerate() {
            sheet.write_string(0, column(c)?, xlsx_text(header))?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = u32::try_from(r + 1).map_err(|_| XlsxError::RowColumnLimitError)?;
            for (c, cell) in row.iter().enumerate() {
                match cell {
                    Cell::Number(n) => sheet.write_number(r, column(c)?, *n)?,
                    Cell::Text(t) => sheet.write_string(r, column(c)?, xlsx_text(t))?,
                };
            }
        }
        stored(&workbook.save_to_buffer()?)
    }
}

/// A cell as CSV text.
pub fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => t.clone(),
        Cell::Number(n) => format_number(*n),
    }
}

/// CSV lines for `rows` (CRLF ends, every cell defused and quoted as
/// needed), after a byte-order mark when `bom`.
pub fn csv_bytes(bom: bool, rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let start = if bom {
        "\u{feff}".as_bytes().to_vec()
    } else {
        Vec::new()
    };
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(start);
    for row in rows {
        // Writing to memory does not fail.
        let _ = writer.write_record(row.into_iter().map(defuse));
    }
    writer
        .into_inner()
        .map_err(|e| e.into_error())
        .unwrap_or_default()
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// A cell starting with `=`, `+`, `-` or `@` gets a leading `'` so a
/// spreadsheet that opens the CSV does not run it as a formula.
fn defuse(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@']) {
        format!("'{cell}")
    } else {
        cell
    }
}

fn column(index: usize) -> Result<u16, XlsxError> {
    u16::try_from(index).map_err(|_| XlsxError::RowColumnLimitError)
}

/// Text as a cell holds it: without the characters XML 1.0 does not allow
/// (control characters other than tab and line breaks, U+FFFE, U+FFFF),
/// which Excel would read as `_x0001_` escapes and other readers would show
/// as such, and cut at Excel's limit of 32,767 UTF-16 units.
pub fn xlsx_text(value: &str) -> String {
    let mut units = 0;
    value
        .chars()
        .filter(|&c| {
            !matches!(c, '\u{FFFE}' | '\u{FFFF}')
                && (u32::from(c) >= 0x20 || matches!(c, '\t' | '\n' | '\r'))
        })
        .take_while(|c| {
            units += c.len_utf16();
            units <= 32_767
        })
        .collect()
}

/// The same workbook with its parts stored rather than deflated, as this
/// module has always sent them: a little larger, and the sheet's text can be
/// found in the raw bytes (the intents API test looks for it there).
fn stored(deflated: &[u8]) -> Result<Vec<u8>, XlsxError> {
    let mut out = Cursor::new(Vec::with_capacity(deflated.len() * 4));
    store_parts(Cursor::new(deflated), &mut out)?;
    Ok(out.into_inner())
}

/// Copies a ZIP archive's parts from `from` to `to`, stored uncompressed,
/// one part at a time without holding it whole.
pub fn store_parts(
    from: impl Read + std::io::Seek,
    to: impl Write + std::io::Seek,
) -> Result<(), XlsxError> {
    let mut archive = zip::ZipArchive::new(from)?;
    let mut out = zip::ZipWriter::new(to);
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for i in 0..archive.len() {
        let mut part = archive.by_index(i)?;
        out.start_file(part.name()?, options)?;
        std::io::copy(&mut part, &mut out)?;
    }
    out.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut table = Table::new(&["name", "count"]);
        table.push(vec!["张三, \"小张\"".into(), Cell::from(3)]);
        table.push(vec!["=1+1".into(), Cell::from(None::<i64>)]);
        assert_eq!(
            table.to_csv(),
            "\u{feff}name,count\r\n\"张三, \"\"小张\"\"\",3\r\n'=1+1,\r\n"
        );
    }

    #[test]
    fn csv_cells_as_before() {
        let mut table = Table::new(&["-h", "b", "c", "d"]);
        table.push(vec![
            "line\nbreak".into(),
            "cr\rhere".into(),
            Cell::Number(-2.0),
            Cell::Number(1.5),
        ]);
        table.push(vec!["+1".into(), "@SUM(A1)".into()]);
        table.push(vec![
            "a'b".into(),
            "x\ty".into(),
            "".into(),
            "  ".into(),
            "e".into(),
        ]);
        assert_eq!(
            table.to_csv(),
            "\u{feff}'-h,b,c,d\r\n\
             \"line\nbreak\",\"cr\rhere\",'-2,1.5\r\n\
             '+1,'@SUM(A1)\r\n\
             a'b,x\ty,,  ,e\r\n"
        );
    }

    /// The parts of a workbook, by name, and whether each was stored.
    fn parts(bytes: &[u8]) -> Vec<(String, String, bool)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..archive.len())
            .map(|i| {
                let mut part = archive.by_index(i).unwrap();
                let mut text = String::new();
                part.read_to_string(&mut text).unwrap();
                let stored = part.compression() == zip::CompressionMethod::Stored;
                (part.name().unwrap().into_owned(), text, stored)
            })
            .collect()
    }

    #[test]
    fn xlsx_is_one_stored_sheet_of_strings_and_numbers() {
        let mut table = Table::new(&["高校", "签约"]);
        table.push(vec!["北京大学 <PKU>\u{FFFF}\u{1}".into(), Cell::from(12)]);
        table.push(vec!["=1+1".into(), Cell::Number(2.5)]);
        let bytes = table.to_xlsx();
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let parts = parts(&bytes);
        assert!(
            parts.iter().all(|(_, _, stored)| *stored),
            "stored, not deflated"
        );
        let part = |name: &str| {
            parts
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, text, _)| text.as_str())
                .unwrap_or_else(|| panic!("{name} in {parts:?}"))
        };
        let sheets: Vec<_> = parts
            .iter()
            .filter(|(n, _, _)| n.starts_with("xl/worksheets/sheet"))
            .collect();
        assert_eq!(sheets.len(), 1);
        assert!(part("xl/workbook.xml").contains("name=\"Sheet1\""));
        let strings = part("xl/sharedStrings.xml");
        for text in ["高校", "签约", "<t>北京大学 &lt;PKU&gt;</t>", "=1+1"] {
            assert!(strings.contains(text), "{text} in {strings}");
        }
        let sheet = part("xl/worksheets/sheet1.xml");
        assert!(sheet.contains("<c r=\"B2\"><v>12</v></c>"), "{sheet}");
        assert!(sheet.contains("<c r=\"B3\"><v>2.5</v></c>"), "{sheet}");
        assert!(!sheet.contains("<f>"), "no formulas: {sheet}");
        // The raw bytes hold the text, as clients that grep them expect.
        assert!(String::from_utf8_lossy(&bytes).contains("北京大学"));
    }

    #[test]
    fn xlsx_text_fits_a_cell() {
        assert_eq!(
            xlsx_text("a\u{FFFE}b\u{FFFF}\u{1}\u{1f}c\td\r\ne"),
            "abc\td\r\ne"
        );
        let long = "暖".repeat(40_000);
        assert_eq!(xlsx_text(&long).chars().count(), 32_767);
        let emoji = "😀".repeat(20_000);
        assert_eq!(xlsx_text(&emoji).encode_utf16().count(), 32_766);
    }

    #[test]
    fn respond_names_the_file() {
        let mut table = Table::new(&["a"]);
        table.push(vec![Cell::from(1)]);
        for (format, content_type, file) in [
            (
                Format::Csv,
                "text/csv; charset=utf-8",
                "attachment; filename=\"t.csv\"",
            ),
            (Format::Xlsx, XLSX, "attachment; filename=\"t.xlsx\""),
        ] {
            let res = table.respond(format, "t");
            assert_eq!(res.status(), 200);
            assert_eq!(
                res.headers().get(header::CONTENT_TYPE).unwrap(),
                content_type
            );
            assert_eq!(
                res.headers().get(header::CONTENT_DISPOSITION).unwrap(),
                file
            );
        }
    }
}
