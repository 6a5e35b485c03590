//! Reading a server-sent event stream as it arrives (the API's `GET /executions/events`,
//! relayed by the console): complete events are taken off the front of a byte buffer, an
//! event cut between two network chunks stays until its end arrives.

/// One event: its type (`message` when it names none) and its data lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub kind: String,
    pub data: String,
}

/// Takes every complete event (up to a blank line) off the front of `buffer`; comments
/// (keep-alives) and events without data are dropped, as `EventSource` drops them.
pub fn take_events(buffer: &mut Vec<u8>) -> Vec<SseEvent> {
    let mut events = Vec::new();
    while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
        let block: Vec<u8> = buffer.drain(..end + 2).collect();
        let block = String::from_utf8_lossy(&block);
        let mut kind = String::from("message");
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(value) = line.strip_prefix("event:") {
                kind = value.trim().to_owned();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        if !data.is_empty() {
            events.push(SseEvent {
                kind,
                data: data.join("\n"),
            });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_events_are_taken_and_a_partial_one_waits_for_its_end() {
        let mut buffer =
            b": keep-alive\n\nevent: execution\ndata: {\"a\":1}\n\nevent: resync\nda".to_vec();
        let events = take_events(&mut buffer);
        assert_eq!(
            events,
            [SseEvent {
                kind: "execution".into(),
                data: "{\"a\":1}".into()
            }]
        );
        buffer.extend_from_slice("ta: {\"reason\":\"lagged\"}\n\ndata: é\n".as_bytes());
        let events = take_events(&mut buffer);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "resync");
        buffer.extend_from_slice(b"\n");
        assert_eq!(take_events(&mut buffer)[0].kind, "message");
        assert!(buffer.is_empty());
    }
}
