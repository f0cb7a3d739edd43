//! Tests of appending, replay, torn tails, corruption and checkpoints.

use super::*;
use crate::replay;

fn framed(payloads: &[&[u8]]) -> Vec<u8> {
    let mut buffer = Vec::new();
    for payload in payloads {
        frame_record(&mut buffer, payload);
    }
    buffer
}

fn replay_all(dir: &Path) -> (Vec<Vec<u8>>, crate::ReplayStats) {
    let mut records = Vec::new();
    let stats = replay(dir, |payload| records.push(payload.to_vec())).unwrap();
    (records, stats)
}

#[test]
fn appended_records_replay_in_order_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { segment_size: 64, sync: SyncPolicy::Always };
    let wal = Wal::open(dir.path(), options.clone()).unwrap();
    let payloads: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; usize::from(i) + 1]).collect();
    for payload in &payloads {
        wal.append(&framed(&[payload])).unwrap();
    }
    assert!(wal.stats().segments_created.load(Ordering::Relaxed) > 5, "small segments must rotate");
    assert!(wal.stats().fsyncs.load(Ordering::Relaxed) >= 50);
    drop(wal);
    let (records, stats) = replay_all(dir.path());
    assert_eq!(records, payloads);
    assert_eq!(stats.truncated_at, None);
    // Reopening starts a new segment after the existing ones; new records follow the old ones.
    let wal = Wal::open(dir.path(), options).unwrap();
    wal.append(&framed(&[b"after restart"])).unwrap();
    drop(wal);
    let (records, _) = replay_all(dir.path());
    assert_eq!(records.len(), 51);
    assert_eq!(records[50], b"after restart");
}

#[test]
fn a_torn_last_record_is_cut_and_earlier_records_survive() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    wal.append(&framed(&[b"one", b"two"])).unwrap();
    wal.append(&framed(&[b"three"])).unwrap();
    drop(wal);
    let segment = dir.path().join(segment_file_name(1));
    let full_len = std::fs::metadata(&segment).unwrap().len();
    // Tear the last record in the middle of its payload, as a crash during write(2) would.
    let file = OpenOptions::new().write(true).open(&segment).unwrap();
    file.set_len(full_len - 2).unwrap();
    let (records, stats) = replay_all(dir.path());
    assert_eq!(records, vec![b"one".to_vec(), b"two".to_vec()]);
    let (name, offset) = stats.truncated_at.unwrap();
    assert_eq!(name, segment_file_name(1));
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), offset);
    // A second replay is clean.
    let (records, stats) = replay_all(dir.path());
    assert_eq!(records.len(), 2);
    assert_eq!(stats.truncated_at, None);
}

#[test]
fn a_checksum_mismatch_stops_replay_and_drops_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    wal.append(&framed(&[b"good", b"flipped"])).unwrap();
    wal.cut_segment().unwrap();
    wal.append(&framed(&[b"later segment"])).unwrap();
    drop(wal);
    let segment = dir.path().join(segment_file_name(1));
    let mut bytes = std::fs::read(&segment).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();
    let (records, stats) = replay_all(dir.path());
    assert_eq!(records, vec![b"good".to_vec()]);
    assert_eq!(stats.dropped_segments, 1);
    assert!(!dir.path().join(segment_file_name(2)).exists());
}

#[test]
fn a_checkpoint_replaces_the_segments_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    wal.append(&framed(&[b"old-1", b"old-2"])).unwrap();
    let through = wal.cut_segment().unwrap();
    wal.append(&framed(&[b"new-1"])).unwrap();
    let failed = wal.write_checkpoint(
        through,
        [Ok(b"partial".as_slice()), Err(WalError::io(dir.path(), std::io::Error::other("source unreadable")))],
    );
    assert!(matches!(failed, Err(WalError::Io { .. })), "{failed:?}");
    let (records, _) = replay_all(dir.path());
    assert_eq!(
        records,
        [b"old-1".to_vec(), b"old-2".to_vec(), b"new-1".to_vec()],
        "a failed checkpoint replaces nothing"
    );
    wal.write_checkpoint(through, [Ok(b"state".as_slice())]).unwrap();
    drop(wal);
    let (records, stats) = replay_all(dir.path());
    assert_eq!(records, vec![b"state".to_vec(), b"new-1".to_vec()]);
    assert_eq!(stats.checkpoint, Some(through));
    assert!(!dir.path().join(segment_file_name(through)).exists());
    // A leftover temporary file from a crash during a checkpoint is ignored and removed.
    std::fs::write(dir.path().join("checkpoint.0000000000000009.tmp"), b"garbage").unwrap();
    let (records, _) = replay_all(dir.path());
    assert_eq!(records.len(), 2);
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert!(!dir.path().join("checkpoint.0000000000000009.tmp").exists());
    drop(wal);
}

#[test]
fn concurrent_appends_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Arc::new(Wal::open(dir.path(), WalOptions { segment_size: 1 << 30, sync: SyncPolicy::Always }).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for i in 0..200u32 {
                    wal.append(&framed(&[format!("{thread}-{i}").as_bytes()])).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let (records, _) = replay_all(dir.path());
    assert_eq!(records.len(), 800);
    assert!(wal.stats().fsyncs.load(Ordering::Relaxed) <= 801);
}
