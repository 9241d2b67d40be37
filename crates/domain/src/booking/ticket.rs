//! B7: what a booking's ticket ("Scarica ticket") and its line in "Le mie
//! prenotazioni" show, as plain data; rendering (PDF, HTML) is the app's.

use serde::Serialize;

use super::Booking;

/// The fields of a ticket, in Italian local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticket {
    /// "Struttura".
    pub office: String,
    /// "Sportello".
    pub counter: String,
    /// "Data Prenotazione", `DD/MM/YYYY`.
    pub date: String,
    /// "Ora Prenotazione", `HH:MM`.
    pub time: String,
    /// "Motivazione".
    pub reason: String,
    /// "Modalità erogazione del servizio".
    pub mode: String,
    /// B10: the code for the office's queue ("eliminacode"); the booking id
    /// for a booking that holds no numbered place.
    pub code: String,
}

impl Ticket {
    /// B7: the ticket of `booking`, its date and time in Italian local time.
    pub fn of(booking: &Booking) -> Self {
        let start = booking.slot.local_start();
        Self {
            office: booking.office.to_string(),
            counter: booking.counter_name.clone(),
            date: start.format("%d/%m/%Y").to_string(),
            time: start.format("%H:%M").to_string(),
            reason: booking.reason.clone(),
            mode: match booking.mode {
                crate::schedule::Mode::InPerson => "In presenza",
                crate::schedule::Mode::PhoneCallback => "Ricontatto telefonico",
                crate::schedule::Mode::WebMeeting => "Web Meeting",
            }
            .to_owned(),
            code: booking
                .ticket_code()
                .unwrap_or_else(|| booking.id.to_string()),
        }
    }

    /// The ticket as text lines (the body of the PDF the app renders).
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "LA PRENOTAZIONE DEL GIORNO {} ALLE ORE {} SARA' GESTITA COME DESCRITTO NEL DETTAGLIO.",
                self.date, self.time
            ),
            format!("Codice: {}", self.code),
            format!("Struttura: {}", self.office),
            format!("Sportello: {}", self.counter),
            format!("Data Prenotazione: {}", self.date),
            format!("Ora Prenotazione: {}", self.time),
            format!("Motivazione: {}", self.reason),
            format!("Modalità erogazione del servizio: {}", self.mode),
        ]
    }
}
