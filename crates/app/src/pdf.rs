//! B7: the booking ticket ("Scarica ticket") as a one-page PDF, written by
//! hand: a catalog, one A4 page, the standard Type1 font Helvetica with
//! WinAnsiEncoding (so that `à` prints), one content stream with the lines of
//! [`Ticket::lines`](deleghe_domain::booking::Ticket::lines), and a
//! cross-reference table whose offsets are counted as the file is written.

/// A one-page PDF showing `title` and then `lines`.
pub fn one_page(title: &str, lines: &[String]) -> Vec<u8> {
    let mut content = Vec::new();
    content.extend_from_slice(b"BT\n/F1 16 Tf\n50 790 Td\n(");
    content.extend_from_slice(&pdf_text(title));
    content.extend_from_slice(b") Tj\n/F1 10 Tf\n15 TL\nT*\nT*\n");
    for line in lines {
        for chunk in wrap(line, 95) {
            content.push(b'(');
            content.extend_from_slice(&pdf_text(&chunk));
            content.extend_from_slice(b") Tj\nT*\n");
        }
    }
    content.extend_from_slice(b"ET\n");

    let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    stream.extend_from_slice(&content);
    stream.extend_from_slice(b"endstream");

    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
        stream,
    ];

    // The binary comment marks the file as binary for transfer tools.
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n", objects.len() + 1).as_bytes());
    // Every entry is exactly 20 bytes, as the format requires.
    out.extend_from_slice(b"0000000000 65535 f \n");
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A string literal's content in WinAnsiEncoding: Latin-1 characters as
/// themselves, `(`, `)` and `\` escaped, anything else as `?`.
fn pdf_text(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push(b'\\');
                out.push(c as u8);
            }
            ' '..='~' => out.push(c as u8),
            '\u{a0}'..='\u{ff}' => out.push(c as u32 as u8),
            '’' => out.push(b'\''),
            _ => out.push(b'?'),
        }
    }
    out
}

/// Splits a long line at spaces so that it fits the page.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    lines
}

#[cfg(test)]
mod tests {
    use deleghe_domain::document::PdfDocument;

    use super::*;

    #[test]
    fn b7_the_ticket_is_a_pdf_with_a_correct_cross_reference_table() {
        let pdf = one_page(
            "INPS (ticket)",
            &["Modalità erogazione del servizio: Web Meeting".to_owned()],
        );
        PdfDocument::parse(&pdf, 3_145_728).expect("a PDF by the rules of M6");
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("INPS \\(ticket\\)"));
        // `à` is one WinAnsi byte.
        assert!(pdf.windows(8).any(|w| w == b"Modalit\xE0"));
        // Every xref offset points at its object.
        let start: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(pdf[start..].starts_with(b"xref\n"));
        let table = String::from_utf8_lossy(&pdf[start..]);
        for (n, entry) in table.lines().skip(3).take(5).enumerate() {
            let offset: usize = entry[..10].parse().unwrap();
            assert!(
                pdf[offset..].starts_with(format!("{} 0 obj", n + 1).as_bytes()),
                "object {}",
                n + 1
            );
        }
    }

    #[test]
    fn long_lines_are_wrapped_at_spaces() {
        let w = wrap("aaa bbb ccc", 7);
        assert_eq!(w, vec!["aaa bbb", "ccc"]);
    }
}
