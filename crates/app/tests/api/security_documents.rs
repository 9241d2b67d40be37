//! Regression tests of the findings of a hostile probe of the documents of
//! web meetings (M6): what is stored, what is taken for a PDF, how a
//! download is served, and what happens to documents nothing refers to.

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::{cf, pdf, tuesday_9, Api};

/// A booked meeting, and its booker's token.
struct Meeting {
    id: String,
    base: String,
    booker: String,
    token: String,
}

impl Meeting {
    async fn book(api: &Api, delegate: &str, grantor: &str) -> Self {
        let booked = api.book_meeting(delegate, grantor).await;
        let id = booked["id"].as_str().unwrap().to_owned();
        Self {
            base: format!("/v1/bookings/{id}/meeting"),
            id,
            booker: delegate.to_owned(),
            token: api.citizen(delegate),
        }
    }

    /// Joins, five minutes before the slot of Tuesday 09:00.
    async fn join(&self, api: &Api) {
        api.set_now(tuesday_9() - Duration::minutes(5));
        let code = api.access_code(&self.booker, &self.id).await;
        api.post(
            &format!("{}/join", self.base),
            &self.token,
            json!({"code": code}),
        )
        .await
        .ok(200);
    }

    fn upload(&self, kind: &str) -> String {
        format!("{}/documents?kind={kind}", self.base)
    }

    async fn send(&self, api: &Api, bytes: Vec<u8>) -> crate::support::Answer {
        api.post_raw(
            &self.upload("aa08"),
            Some(&self.token),
            "application/pdf",
            bytes,
        )
        .await
    }
}

/// How many documents, and bytes, the store holds.
async fn stored(api: &Api) -> (u64, u64) {
    let usage = api.state.documents().usage().await.unwrap();
    (usage.documents, usage.bytes)
}

/// Finding 1: five 3 MiB uploads to a cancelled booking's meeting, each
/// refused with 422, grew the store by 15 MB. An upload the meeting would
/// refuse (not joined, cancelled, closed) stores nothing.
pub async fn uploads_the_meeting_refuses_store_nothing(api: Api) {
    let big = |n: usize| pdf(3_145_728 - n);
    let before = stored(&api).await;

    // Cancelled before anyone joined.
    let cancelled = Meeting::book(&api, &cf(600), &cf(601)).await;
    api.delete(&format!("/v1/bookings/{}", cancelled.id), &cancelled.token)
        .await
        .ok(200);
    for n in 0..5 {
        let answer = cancelled.send(&api, big(n)).await;
        assert_eq!(answer.status, 422, "{:?}", answer.json());
    }
    assert_eq!(stored(&api).await, before, "refused uploads were stored");

    // Not joined yet.
    api.set_now(crate::support::t0());
    let waiting = Meeting::book(&api, &cf(602), &cf(603)).await;
    waiting.send(&api, big(10)).await.refused(422, "not_joined");
    assert_eq!(stored(&api).await, before);

    // Joined, then the booking cancelled before its slot started: the
    // meeting takes no document for a cancelled booking.
    waiting.join(&api).await;
    api.delete(&format!("/v1/bookings/{}", waiting.id), &waiting.token)
        .await
        .ok(200);
    waiting.send(&api, big(11)).await.refused(422, "not_active");
    assert_eq!(stored(&api).await, before);
    let meeting = api.get(&waiting.base, &waiting.token).await.ok(200);
    assert_eq!(meeting["documents"], json!([]));

    // Closed.
    api.set_now(crate::support::t0());
    let closed = Meeting::book(&api, &cf(604), &cf(605)).await;
    closed.join(&api).await;
    api.post(
        &format!("{}/abandon", closed.base),
        &api.operator(),
        json!({"outcome": "technical_failure"}),
    )
    .await
    .ok(200);
    closed
        .send(&api, big(12))
        .await
        .refused(422, "meeting_closed");
    assert_eq!(stored(&api).await, before);

    // The meeting's state is judged before the body is: a body far over
    // the limit to a meeting that takes none is refused by the meeting.
    closed
        .send(&api, pdf(5 * 1024 * 1024))
        .await
        .refused(422, "meeting_closed");

    // An upload the meeting takes is stored, once.
    api.set_now(crate::support::t0());
    let open = Meeting::book(&api, &cf(606), &cf(607)).await;
    open.join(&api).await;
    open.send(&api, pdf(4096)).await.ok(201);
    open.send(&api, pdf(4096)).await.ok(201);
    assert_eq!(stored(&api).await, (before.0 + 1, before.1 + 4096));
}

/// An HTML page with a script, `%PDF-` in a comment within its first KiB
/// and `%%EOF` at its end: what the old check took for a PDF.
fn html_with_pdf_marker() -> Vec<u8> {
    b"<!DOCTYPE html>\n<html><head><script>fetch('/v1/me/pin',{method:'POST'})</script>\n\
<!-- %PDF-1.7 --></head><body>Modulo AA08</body></html>\n%%EOF\n"
        .to_vec()
}

/// Finding 2: a PDF starts with `%PDF-` at byte 0 and parses as a PDF.
pub async fn a_pdf_starts_with_its_header_and_parses_as_one(api: Api) {
    let meeting = Meeting::book(&api, &cf(610), &cf(611)).await;
    meeting.join(&api).await;
    let before = stored(&api).await;

    meeting
        .send(&api, html_with_pdf_marker())
        .await
        .refused(415, "not_a_pdf");
    // A real PDF behind anything but its header is not one either.
    let mut late = b"<html>".to_vec();
    late.extend_from_slice(&pdf(2048));
    meeting.send(&api, late).await.refused(415, "not_a_pdf");
    // The two markers with anything between them.
    let mut garbage = b"%PDF-1.7\n".to_vec();
    garbage.extend_from_slice(&[b' '; 4096]);
    garbage.extend_from_slice(b"<script>alert(1)</script>\n%%EOF\n");
    meeting.send(&api, garbage).await.refused(415, "not_a_pdf");
    // A real PDF cut short.
    let whole = pdf(8192);
    meeting
        .send(&api, whole[..whole.len() / 2].to_vec())
        .await
        .refused(415, "not_a_pdf");
    assert_eq!(stored(&api).await, before, "nothing refused was stored");

    // Real PDFs pass, up to exactly 3 MiB; one byte more is too large.
    meeting.send(&api, pdf(2048)).await.ok(201);
    let exactly = meeting.send(&api, pdf(3_145_728)).await.ok(201);
    assert_eq!(exactly["bytes"], 3_145_728);
    let over = meeting
        .send(&api, pdf(3_145_729))
        .await
        .refused(413, "document_too_large");
    assert_eq!(over["max"], 3_145_728);
    // The ticket the app writes is a PDF by the same rules.
    let ticket = api
        .get(
            &format!("/v1/bookings/{}/ticket", meeting.id),
            &meeting.token,
        )
        .await;
    assert_eq!(ticket.status, 200);
    meeting.send(&api, ticket.body).await.ok(201);
}

/// Finding 3: a download is an attachment, never sniffed nor rendered in
/// the app's origin.
pub async fn downloads_are_attachments_never_rendered(api: Api) {
    let meeting = Meeting::book(&api, &cf(620), &cf(621)).await;
    meeting.join(&api).await;
    let uploaded: Value = meeting.send(&api, pdf(2048)).await.ok(201);
    let sha256 = uploaded["sha256"].as_str().unwrap();
    let got = api
        .get(
            &format!("{}/documents/{sha256}", meeting.base),
            &meeting.token,
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, pdf(2048));
    let header = |name: &str| {
        got.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/pdf");
    assert_eq!(
        header("content-disposition"),
        format!("attachment; filename=\"{sha256}.pdf\"")
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("content-security-policy"), "sandbox");
    assert_eq!(header("cache-control"), "no-store");
}

/// Finding 4: documents no event refers to (an upload whose command
/// failed, a crash between the two) are removed by a sweep once older than
/// a day; those an event refers to, and young ones, are kept.
pub async fn unreferenced_documents_are_swept_after_their_grace(api: Api) {
    let store = api.state.documents();
    let before = stored(&api).await;
    // Stored on Monday, and never referred to.
    let orphan = store.put(&pdf(1500)).await.unwrap();
    // Uploaded to a meeting on Tuesday: its event refers to it.
    let meeting = Meeting::book(&api, &cf(630), &cf(631)).await;
    meeting.join(&api).await;
    let uploaded = meeting.send(&api, pdf(2048)).await.ok(201);
    let attached = uploaded["sha256"].as_str().unwrap().to_owned();
    // Stored on Tuesday, then again on Thursday (uploaded anew): young again.
    let again = store.put(&pdf(1700)).await.unwrap();

    // Within the day, nothing goes.
    assert_eq!(api.state.sweep_documents().await.unwrap().documents, 0);
    assert_eq!(
        stored(&api).await,
        (before.0 + 3, before.1 + 1500 + 2048 + 1700)
    );

    api.set_now(tuesday_9() + Duration::days(2));
    store.put(&pdf(1700)).await.unwrap();
    let young = store.put(&pdf(1600)).await.unwrap();
    let removed = api.state.sweep_documents().await.unwrap();
    assert_eq!((removed.documents, removed.bytes), (1, 1500));
    assert_eq!(store.get(&orphan).await.unwrap(), None, "the orphan stays");
    for kept in [&attached, &again, &young] {
        assert!(store.get(kept).await.unwrap().is_some(), "{kept} was swept");
    }
    // The meeting's document is still served.
    let got = api
        .get(
            &format!("{}/documents/{attached}", meeting.base),
            &meeting.token,
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, pdf(2048));
    // Sweeping again removes nothing more.
    assert_eq!(api.state.sweep_documents().await.unwrap().documents, 0);
}
