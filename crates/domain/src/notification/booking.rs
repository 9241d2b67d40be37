//! N1, N2, N3, N5 for bookings: what a confirmed or cancelled booking sends.

use chrono::{DateTime, Duration, Utc};

use super::delegation::channels;
use super::text::{self, io_notification};
use super::{access_code_placeholder, keys, Channel, Notification, OutboxOp};
use crate::booking::{BookerEvent, Booking, BookingId, BookingStage};
use crate::meeting::MeetingEvent;
use crate::schedule::{Mode, DELEGATIONS_COUNTER_TYPE};
use crate::{FiscalCode, Policy};

/// N3: the title of the calendar notice of a telematic booking (web meeting or
/// phone callback), as in the guide.
pub const CALENDAR_TITLE: &str = "Prenotazione Sportello Telematico";

/// N3: the title of the calendar notice of an in-person booking.
const CALENDAR_TITLE_IN_PERSON: &str = "Prenotazione accesso in sede";

/// The link to a booking's web meeting (docs/APP.md: `/v1/bookings/{id}/meeting`).
pub fn meeting_link(id: &BookingId) -> String {
    format!("/v1/bookings/{id}/meeting")
}

/// The notifications caused by one event of the booker aggregate.
///
/// `booking` is the booking the event is about, as it stands after the event;
/// `now` is when the event is handled. Only the event's ids enter the keys
/// (N6), so handling the same event again gives the same keys.
///
/// - `BookingConfirmed`: N1 the summary SMS to the booking's phone (with the
///   access code for a web meeting) and N5 the same summary in the IO app of
///   the booker, both due at `now`; N3 the calendar notice in the booker's
///   personal area, due at `now`; N2 the reminder SMS due
///   `policy.reminder_minutes_before_start` before the slot starts (at `now`
///   if that is already past; none once the slot has started, or if the
///   booking has meanwhile been cancelled, refused, served or missed).
/// - `BookingCancelled`: withdraws the reminder (N2) and sends a cancellation
///   SMS, due at `now`.
/// - `BookingRefused`: withdraws the reminder (none should exist: a refused
///   booking was never confirmed; the withdrawal makes sure).
/// - Other events send nothing. So does an event about another booking than
///   `booking`, except the withdrawals, which need only the event's id.
pub fn on_booking_event(
    event: &BookerEvent,
    booking: &Booking,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<OutboxOp> {
    match event {
        BookerEvent::BookingConfirmed { id, .. } if *id == booking.id => {
            confirmed(booking, policy, now)
        }
        BookerEvent::BookingCancelled { id, .. } => {
            let mut ops = vec![OutboxOp::Withdraw {
                key: keys::booking_reminder_sms(id),
            }];
            if *id == booking.id {
                ops.push(OutboxOp::Schedule(cancellation_sms(booking, now)));
            }
            ops
        }
        BookerEvent::BookingRefused { id, .. } => vec![OutboxOp::Withdraw {
            key: keys::booking_reminder_sms(id),
        }],
        _ => vec![],
    }
}

/// N7, D9: a booking asked for or cancelled by a delegate acting for a
/// grantor (the booker: the service refuses a delegate another's bookings)
/// is told to `grantor`, naming the delegate, on N7's channels: a
/// notice in their personal area (always), an SMS to the mobile in their
/// contacts and an IO message (resolved when sent, as for a delegation's
/// notices). Nothing is done in someone's name without them being told;
/// the SMS of N1 goes to the phone the booking names, which the delegate
/// chose. `delegate` is who acted, from the event's metadata; `booking` is
/// the booking as the event leaves it; due at `now`. Other events, and an
/// event about another booking, send nothing.
///
/// Keys are `booking:{id}:acted-for:{requested|cancelled}:{channel}` (N6).
pub fn on_booking_acted_for(
    event: &BookerEvent,
    booking: &Booking,
    grantor: &FiscalCode,
    delegate: &FiscalCode,
    now: DateTime<Utc>,
) -> Vec<OutboxOp> {
    let (purpose, subject, done) = match event {
        BookerEvent::BookingRequested(b) if b.id == booking.id => (
            "requested",
            "Prenotazione chiesta a suo nome",
            "ha chiesto a suo nome",
        ),
        BookerEvent::BookingCancelled { id, .. } if *id == booking.id => (
            "cancelled",
            "Prenotazione annullata a suo nome",
            "ha annullato a suo nome",
        ),
        _ => return vec![],
    };
    let body = format!(
        "INPS: {delegate}, suo delegato, {done} la prenotazione allo sportello {} (sede {}) \
         del {} ore {}.",
        booking.counter_name,
        booking.office,
        text::date(booking.slot.start),
        text::time(booking.slot.start),
    );
    channels(grantor)
        .into_iter()
        .map(|channel| {
            let key = keys::booking_acted_for(&booking.id, purpose, &channel);
            OutboxOp::Schedule(match channel {
                Channel::Io { fiscal_code } => {
                    io_notification(key, fiscal_code, now, subject, &body)
                }
                channel => Notification {
                    key,
                    channel,
                    due_at: now,
                    title: subject.to_owned(),
                    body: body.clone(),
                },
            })
        })
        .collect()
}

/// M10: the SMS that carries a new access code, issued by an operator, to
/// the booking's phone. Due at once.
pub fn on_meeting_event(event: &MeetingEvent, now: DateTime<Utc>) -> Vec<OutboxOp> {
    match event {
        MeetingEvent::AccessCodeIssued {
            booking_id,
            generation,
            phone,
            ..
        } => vec![OutboxOp::Schedule(Notification {
            key: keys::meeting_access_code_sms(booking_id, *generation),
            channel: Channel::Sms { to: phone.clone() },
            due_at: now,
            title: "Nuovo codice di accesso".to_owned(),
            body: format!(
                "INPS: il nuovo codice di accesso al suo web meeting è {}. \
                 I codici ricevuti in precedenza non sono più validi.",
                access_code_placeholder(booking_id, *generation)
            ),
        })],
        _ => vec![],
    }
}

fn confirmed(b: &Booking, policy: &Policy, now: DateTime<Utc>) -> Vec<OutboxOp> {
    let summary = summary(b, policy);
    let mut ops = vec![OutboxOp::Schedule(Notification {
        key: keys::booking_confirmation_sms(&b.id),
        channel: Channel::Sms {
            to: b.phone.clone(),
        },
        due_at: now,
        title: "Conferma prenotazione".to_owned(),
        body: summary.clone(),
    })];
    if let Some(reminder) = reminder(b, policy, now) {
        ops.push(OutboxOp::Schedule(reminder));
    }
    ops.push(OutboxOp::Schedule(calendar_notice(b, policy, now)));
    ops.push(OutboxOp::Schedule(io_notification(
        keys::booking_confirmation_io(&b.id),
        b.booker.clone(),
        now,
        &format!(
            "Conferma prenotazione del {} ore {}",
            text::date(b.slot.start),
            text::time(b.slot.start)
        ),
        &summary,
    )));
    ops
}

/// N1: the SMS summary of a confirmed booking.
fn summary(b: &Booking, policy: &Policy) -> String {
    let mut s = format!(
        "INPS: prenotazione confermata. Sportello {}, sede {}, giorno {} ore {}, modalità {}.",
        b.counter_name,
        b.office,
        text::date(b.slot.start),
        text::time(b.slot.start),
        text::mode(b.mode),
    );
    match b.mode {
        Mode::WebMeeting => s.push_str(&format!(
            " Codice di accesso al web meeting: {}. Acceda da MyINPS, Prenota accesso in sede, \
             Le mie prenotazioni, da {} minuti prima dell'orario.",
            access_code_placeholder(&b.id, 0),
            policy.join_minutes_before_start
        )),
        Mode::PhoneCallback => s.push_str(" Sarà ricontattato a questo numero."),
        Mode::InPerson => {
            s.push_str(" Si presenti in sede con un documento di riconoscimento valido.")
        }
    }
    s
}

/// N2: the reminder, unless the slot has started or the booking is over.
fn reminder(b: &Booking, policy: &Policy, now: DateTime<Utc>) -> Option<Notification> {
    let over = matches!(
        b.stage,
        BookingStage::Cancelled { .. }
            | BookingStage::Refused { .. }
            | BookingStage::Served { .. }
            | BookingStage::Missed { .. }
    );
    if over || b.slot.has_started(now) {
        return None;
    }
    // An absolute duration before the start instant: across a daylight-saving
    // change "30 minutes before 09:00" is still 08:30 local.
    let due = b.slot.start - Duration::minutes(i64::from(policy.reminder_minutes_before_start));
    let mut body = format!(
        "INPS promemoria: la sua prenotazione allo sportello {} (sede {}) è il {} alle ore {}, \
         modalità {}.",
        b.counter_name,
        b.office,
        text::date(b.slot.start),
        text::time(b.slot.start),
        text::mode(b.mode),
    );
    if b.mode == Mode::WebMeeting {
        body.push_str(" Acceda al web meeting da MyINPS con il codice ricevuto via SMS.");
    }
    Some(Notification {
        key: keys::booking_reminder_sms(&b.id),
        channel: Channel::Sms {
            to: b.phone.clone(),
        },
        due_at: due.max(now),
        title: "Promemoria prenotazione".to_owned(),
        body,
    })
}

fn cancellation_sms(b: &Booking, now: DateTime<Utc>) -> Notification {
    Notification {
        key: keys::booking_cancellation_sms(&b.id),
        channel: Channel::Sms {
            to: b.phone.clone(),
        },
        due_at: now,
        title: "Prenotazione annullata".to_owned(),
        body: format!(
            "INPS: la sua prenotazione allo sportello {} (sede {}) del {} ore {} è stata \
             annullata.",
            b.counter_name,
            b.office,
            text::date(b.slot.start),
            text::time(b.slot.start),
        ),
    }
}

/// M6 in the notice's words: "3 Mb" for 3 MiB.
fn size_limit(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes.is_multiple_of(MIB) {
        format!("{} Mb", bytes / MIB)
    } else {
        // Italian decimal comma, one digit.
        let tenths = (bytes * 10 + MIB / 2) / MIB;
        format!("{},{} Mb", tenths / 10, tenths % 10)
    }
}

const PRIVACY_TITLE: &str = "Informativa in materia di protezione e trattamento dei dati \
personali ai sensi dell'art. 13 del Regolamento UE 2016/679";

const PRIVACY_OPENING: &str = "L'INPS la informa che il trattamento di dati personali che la \
riguardano è effettuato per le finalità del servizio in videochiamata da lei richiesto e per \
eventuali altri scopi connessi e collegati, ai sensi delle previsioni di legge ed in particolare \
delle disposizioni di cui al Regolamento UE 2016/679 e al d.lgs. n. 196/2003, come modificato e \
integrato dal d.lgs. n. 101/2018. L'INPS, quale Titolare del trattamento, le chiarisce che ogni \
operazione che implica l'uso dei suoi dati personali è effettuata in modo da garantirne la \
sicurezza e la riservatezza, nel rispetto delle indicazioni previste dalla normativa sopra \
richiamata e sarà svolta da dipendenti dell'Istituto appositamente autorizzati ed istruiti.";

/// M4: the variant of the guide's first notice, for recorded meetings.
const PRIVACY_RECORDED: &str = "La informiamo, inoltre, che il servizio in videochiamata sarà \
oggetto di registrazione e, nel caso in cui in fase di accesso non acconsentiate alla \
registrazione, il servizio non potrà essere erogato nella modalità richiesta.";

/// M4: the variant of the guide's second notice, for meetings not recorded.
const PRIVACY_NOT_RECORDED: &str = "Il servizio in videochiamata non sarà oggetto di \
registrazione.";

const PRIVACY_CLOSING: &str = "Ulteriori informazioni in ordine al trattamento dei suoi dati e \
ai diritti che le sono riconosciuti possono essere reperite sul sito istituzionale www.inps.it, \
nella sezione recante le Informazioni sul trattamento dei dati personali degli Utenti dell'INPS \
ai sensi degli articoli 13 e 14 del Regolamento (UE) 2016/679.";

/// N3: the calendar notice ("scadenza"). For a web meeting, the guide's text:
/// counter, date and time, who must attend and the documents (for the
/// delegations counter), the PDF size limit, the privacy notice in the
/// variant `policy.meetings_recorded` chooses, and the link to the meeting.
/// For the other modes, a shorter notice.
fn calendar_notice(b: &Booking, policy: &Policy, now: DateTime<Utc>) -> Notification {
    let date = text::date(b.slot.start);
    let (title, body) = match b.mode {
        Mode::WebMeeting => (CALENDAR_TITLE, web_meeting_notice(b, policy)),
        Mode::PhoneCallback => (
            CALENDAR_TITLE,
            format!(
                "Gentile utente,\n\nla sua prenotazione in modalità telematica (ricontatto \
                 telefonico) per lo sportello '{}' della sede {}, per il giorno {} ore {}, è \
                 stata regolarmente registrata.\n\nSarà ricontattato da un funzionario INPS al \
                 numero {}.",
                b.counter_name,
                b.office,
                date,
                text::time_with_seconds(b.slot.start),
                b.phone,
            ),
        ),
        Mode::InPerson => (
            CALENDAR_TITLE_IN_PERSON,
            format!(
                "Gentile utente,\n\nla sua prenotazione per lo sportello '{}' presso la sede {}, \
                 per il giorno {} ore {}, è stata regolarmente registrata.\n\nSi presenti in sede \
                 all'orario prenotato munito di documento di riconoscimento dell'identità \
                 personale in corso di validità.",
                b.counter_name,
                b.office,
                date,
                text::time_with_seconds(b.slot.start),
            ),
        ),
    };
    Notification {
        key: keys::booking_calendar_notice(&b.id),
        channel: Channel::CalendarNotice {
            citizen: b.booker.clone(),
        },
        due_at: now,
        title: title.to_owned(),
        body,
    }
}

fn web_meeting_notice(b: &Booking, policy: &Policy) -> String {
    let limit = size_limit(policy.max_document_bytes);
    let attendance = if b.counter_type == DELEGATIONS_COUNTER_TYPE {
        format!(
            "Le ricordiamo che sia il delegato che il delegante dovranno essere presenti al web \
             meeting. Il delegante dovrà essere altresì munito di documento di riconoscimento \
             dell'identità personale in corso di validità. I documenti da allegare nel corso del \
             web meeting sono il Modello AA08 compilato e sottoscritto, con firma autografa o \
             digitale; la copia del documento di riconoscimento dell'identità personale del \
             delegante. Ciascun documento dovrà essere presentato in formato pdf di dimensione \
             massima {limit}."
        )
    } else {
        format!(
            "Le ricordiamo di essere munito di documento di riconoscimento dell'identità \
             personale in corso di validità. Ciascun documento da allegare nel corso del web \
             meeting dovrà essere presentato in formato pdf di dimensione massima {limit}."
        )
    };
    let recording = if policy.meetings_recorded {
        PRIVACY_RECORDED
    } else {
        PRIVACY_NOT_RECORDED
    };
    format!(
        "Gentile utente,\n\n\
         la sua prenotazione in modalità telematica per lo sportello '{counter}', per il giorno \
         {date} ore {time}, è stata regolarmente registrata.\n\n\
         {attendance}\n\n\
         Per informazioni sulle modalità di fruizione del servizio consulti la guida di accesso \
         alla Prenotazione Telematica.\n\n\
         {PRIVACY_TITLE}\n\n\
         {PRIVACY_OPENING} {recording} {PRIVACY_CLOSING}\n\n\
         Potrà accedere al meeting online tramite questo link: {link}\n\
         L'accesso è possibile da {join} minuti prima dell'orario della prenotazione.",
        counter = b.counter_name,
        date = text::date(b.slot.start),
        time = text::time_with_seconds(b.slot.start),
        link = meeting_link(&b.id),
        join = policy.join_minutes_before_start,
    )
}
