//! Spreadsheets of any length, written page by page as the rows come from
//! the database, so a 100,000-row export holds one page in memory, not the
//! whole file. CSV goes out as it is written; an XLSX workbook is written
//! row by row to temporary files (`rust_xlsxwriter`'s constant-memory
//! sheets) and then sent from disk.
//!
//! A CSV export that fails halfway (the database went away) is cut off
//! without its final chunk, so the client sees a broken download rather than
//! a file that looks complete.

use std::{io, path::Path, pin::Pin};

use actix_web::{HttpResponse, http::header, web};
use futures_util::{Stream, StreamExt, stream};
use rust_xlsxwriter::{Workbook, XlsxError};

use super::{
    error::ApiError,
    export::{Cell, Format, XLSX, cell_text, csv_bytes, store_parts, xlsx_text},
};

/// Pages of rows, in order.
pub type Pages = Pin<Box<dyn Stream<Item = Result<Vec<Vec<Cell>>, ApiError>>>>;

/// Pages of rows, each with the person it is about, for the audit trail
/// (see [`super::audit::ExportTrail::pages`]).
pub type PeoplePages = Pin<Box<dyn Stream<Item = Result<Vec<(uuid::Uuid, Vec<Cell>)>, ApiError>>>>;

/// The rows of `pages` under `headers` as an attachment `<name>.csv` or
/// `<name>.xlsx`.
pub async fn respond(
    format: Format,
    name: &str,
    headers: &[&str],
    pages: Pages,
) -> Result<HttpResponse, ApiError> {
    let mut response = HttpResponse::Ok();
    match format {
        Format::Csv => {
            let head = csv_bytes(
                true,
                std::iter::once(headers.iter().map(|h| (*h).to_owned()).collect()),
            );
            let body = stream::once(async move { Ok::<_, io::Error>(web::Bytes::from(head)) })
                .chain(pages.map(|page| match page {
                    Ok(rows) => Ok(web::Bytes::from(csv_bytes(
                        false,
                        rows.iter().map(|row| row.iter().map(cell_text).collect()),
                    ))),
                    Err(e) => {
                        tracing::error!(error = %e, "export stopped halfway");
                        Err(io::Error::other("the export stopped halfway"))
                    }
                }));
            Ok(response
                .content_type("text/csv; charset=utf-8")
                .insert_header(disposition(name, "csv"))
                .streaming(body))
        }
        Format::Xlsx => {
            let dir = tempfile::tempdir().map_err(ApiError::internal)?;
            let written = write_xlsx(dir.path(), headers, pages).await?;
            let file = tokio::fs::File::open(&written)
                .await
                .map_err(ApiError::internal)?;
            let length = file.metadata().await.map_err(ApiError::internal)?.len();
            // The folder goes when the last chunk has been read.
            let body = stream::unfold((file, dir), |(mut file, dir)| async move {
                use tokio::io::AsyncReadExt;
                let mut chunk = vec![0u8; 64 * 1024];
                match file.read(&mut chunk).await {
                    Ok(0) => None,
                    Ok(n) => {
                        chunk.truncate(n);
                        Some((Ok(web::Bytes::from(chunk)), (file, dir)))
                    }
                    Err(e) => Some((Err(e), (file, dir))),
                }
            });
            Ok(response
                .content_type(XLSX)
                .insert_header(disposition(name, "xlsx"))
                .no_chunking(length)
                .streaming(body))
        }
    }
}

fn disposition(name: &str, extension: &str) -> (header::HeaderName, String) {
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{name}.{extension}\""),
    )
}

/// Writes the workbook under `dir`, a page at a time; gives the file's path.
async fn write_xlsx(
    dir: &Path,
    headers: &[&str],
    mut pages: Pages,
) -> Result<std::path::PathBuf, ApiError> {
    let xlsx = |e: XlsxError| ApiError::internal(format!("xlsx: {e}"));
    let mut workbook = Workbook::new();
    workbook.set_tempdir(dir).map_err(xlsx)?;
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(xlsx)?;
    for (c, header) in headers.iter().enumerate() {
        sheet
            .write_string(0, column(c)?, xlsx_text(header))
            .map_err(xlsx)?;
    }
    let mut r: u32 = 0;
    while let Some(page) = pages.next().await {
        for row in page? {
            r = r
                .checked_add(1)
                .filter(|r| *r < 1_048_576)
                .ok_or_else(|| ApiError::internal("the export is larger than a sheet holds"))?;
            for (c, cell) in row.iter().enumerate() {
                match cell {
                    Cell::Number(n) => sheet.write_number(r, column(c)?, *n),
                    Cell::Text(t) => sheet.write_string(r, column(c)?, xlsx_text(t)),
                }
                .map_err(xlsx)?;
            }
        }
    }
    let deflated = dir.join("deflated.xlsx");
    let stored = dir.join("export.xlsx");
    let (from, to) = (deflated.clone(), stored.clone());
    web::block(move || -> Result<(), XlsxError> {
        workbook.save(&from)?;
        store_parts(std::fs::File::open(&from)?, std::fs::File::create(&to)?)
    })
    .await?
    .map_err(xlsx)?;
    Ok(stored)
}

fn column(index: usize) -> Result<u16, ApiError> {
    u16::try_from(index).map_err(|_| ApiError::internal("too many columns for a sheet"))
}
