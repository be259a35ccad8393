//! `task_logs` reading a tail that spans several GetLogEvents pages of moto's CloudWatch Logs.
//!
//! moto 5.2.5 pages GetLogEvents as AWS does (read in its `moto/logs/models.py`): `limit` events
//! per page (10 000 when absent), `nextBackwardToken` `b/<index of the page's first event>`,
//! `nextForwardToken` `f/<index of its last>`, and past the start an empty page whose token is
//! the one sent. So a page size below the lines asked for makes the tail cross page boundaries
//! for real. Seen failing with paging broken (one page only): the 20-line tail over pages of 7
//! gave 7 lines.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use dk_core::task_logs::{LogRead, LogStream, TaskLogs};
use test_support::{standins, unique};

/// A new stream in a new group holding one event per message, in order.
async fn stream_with(messages: &[String]) -> (TaskLogs, LogStream) {
    let config = test_support::sdk_config(&standins().moto, None).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let group = format!("/ecs/{}", unique("paging"));
    let stream = "ecs/app/0123456789abcdef".to_string();
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .send()
        .await
        .unwrap();
    let now = jiff::Timestamp::now().as_millisecond() - 60_000;
    let events = messages.iter().enumerate().map(|(i, m)| {
        InputLogEvent::builder()
            .timestamp(now + i as i64)
            .message(m)
            .build()
            .unwrap()
    });
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .set_log_events(Some(events.collect()))
        .send()
        .await
        .unwrap();
    let s = LogStream {
        group,
        stream,
        region: None,
    };
    (TaskLogs::new(&config), s)
}

fn lines(read: LogRead) -> Vec<String> {
    match read {
        LogRead::Lines(l) => l,
        LogRead::Note(n) => panic!("a note instead of lines: {n}"),
    }
}

fn numbered(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("line-{i:03}")).collect()
}

/// 50 events read back in pages of 7: the last 20 lines are exactly lines 30..50, in order —
/// none lost or repeated at the three page boundaries crossed.
#[tokio::test]
async fn tail_crosses_page_boundaries_without_losing_or_repeating_a_line() {
    let all = numbered(0..50);
    let (logs, s) = stream_with(&all).await;
    assert_eq!(lines(logs.last_lines_paged(&s, 20, 7).await), all[30..]);
    // Page size equal to a boundary multiple, and one line more than a page.
    assert_eq!(lines(logs.last_lines_paged(&s, 14, 7).await), all[36..]);
    assert_eq!(lines(logs.last_lines_paged(&s, 8, 7).await), all[42..]);
    // The default page size (the lines asked for): one page.
    assert_eq!(lines(logs.last_lines(&s, 5).await), all[45..]);
}

/// Asking for more lines than the stream holds walks back to its start and stops there (the
/// token comes back unchanged): every line once, in order.
#[tokio::test]
async fn tail_longer_than_the_stream_reads_it_whole_and_stops() {
    let all = numbered(0..30);
    let (logs, s) = stream_with(&all).await;
    assert_eq!(lines(logs.last_lines_paged(&s, 100, 7).await), all);
}

/// Multi-line events (a stack trace is one event): lines of an event on both sides of the cut
/// are kept from its end, and page boundaries fall between events, not lines.
#[tokio::test]
async fn multi_line_events_across_pages_keep_the_true_last_lines() {
    let events: Vec<String> = (0..12)
        .map(|i| format!("e{i:02} a\ne{i:02} b\ne{i:02} c"))
        .collect();
    let (logs, s) = stream_with(&events).await;
    let want: Vec<String> = [
        "e08 c", "e09 a", "e09 b", "e09 c", "e10 a", "e10 b", "e10 c",
    ]
    .into_iter()
    .chain(["e11 a", "e11 b", "e11 c"])
    .map(String::from)
    .collect();
    assert_eq!(lines(logs.last_lines_paged(&s, 10, 2).await), want);
}
