//! Block round trips and corruption detection.

use super::*;

use crate::postings::select_postings;
use oxeye_model::{Labels, Sample};
use oxeye_storage_api::Matcher;
use proptest::prelude::*;

fn write_and_open(series: &[(Labels, Vec<Sample>)]) -> (tempfile::TempDir, Block) {
    let dir = tempfile::tempdir().unwrap();
    let id = new_block_id();
    write_block(dir.path(), &id, 0, 1 << 40, series, CompactionInfo { level: 1, sources: vec![id.clone()] })
        .unwrap()
        .unwrap();
    let block = Block::open(&dir.path().join(&id)).unwrap();
    (dir, block)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn arbitrary_series_round_trip(
        raw in proptest::collection::btree_map(
            proptest::collection::btree_map("[a-z_]{1,5}", "[a-zA-Z0-9 ]{1,6}", 1..4),
            proptest::collection::btree_map(0i64..1_000_000, any::<f64>(), 1..50),
            1..20,
        )
    ) {
        let series: Vec<(Labels, Vec<Sample>)> = raw.iter().map(|(labels, samples)| {
            (Labels::from_pairs(labels.iter().map(|(k, v)| (k.clone(), v.clone()))).unwrap(),
             samples.iter().map(|(t, v)| Sample::new(*t, *v)).collect())
        }).collect();
        let mut series = series;
        series.sort_by(|a, b| a.0.cmp(&b.0));
        series.dedup_by(|a, b| a.0 == b.0);
        let (_dir, block) = write_and_open(&series);
        prop_assert_eq!(block.num_series(), series.len());
        for (id, (labels, samples)) in series.iter().enumerate() {
            prop_assert_eq!(&block.labels(id as u32), labels);
            let mut out = Vec::new();
            block.samples_in(id as u32, i64::MIN, i64::MAX, &mut out).unwrap();
            prop_assert_eq!(out.len(), samples.len());
            for (a, b) in out.iter().zip(samples) {
                prop_assert_eq!(a.timestamp_ms, b.timestamp_ms);
                prop_assert_eq!(a.value.to_bits(), b.value.to_bits());
            }
            // Every label pair finds the series through the postings.
            for label in labels {
                let ids = select_postings(&block, &[Matcher::equal(label.name.clone(), label.value.clone())]);
                prop_assert!(ids.contains(&(id as u32)));
            }
        }
    }
}

#[test]
fn corrupt_index_and_chunks_are_detected() {
    let series = vec![(
        Labels::from_pairs([("__name__", "up")]).unwrap(),
        (0..100).map(|i| Sample::new(i * 15_000, i as f64)).collect::<Vec<_>>(),
    )];
    let (dir, block) = write_and_open(&series);
    let block_dir = block.dir.clone();
    let chunks = std::fs::read(block_dir.join(files::CHUNKS)).unwrap();
    assert_eq!(chunks[8], files::ENCODING_PCO_REGULAR, "a 100-sample series at a constant step: pco values, a step");
    drop(block);
    let index_path = block_dir.join(files::INDEX);
    let mut index = std::fs::read(&index_path).unwrap();
    index[10] ^= 0x55;
    std::fs::write(&index_path, &index).unwrap();
    let error = Block::open(&block_dir).err().expect("a flipped index byte must be detected").to_string();
    assert!(error.contains("checksum"), "{error}");
    index[10] ^= 0x55;
    std::fs::write(&index_path, &index).unwrap();
    let chunks_path = block_dir.join(files::CHUNKS);
    let mut chunks = std::fs::read(&chunks_path).unwrap();
    chunks[20] ^= 0x55;
    std::fs::write(&chunks_path, &chunks).unwrap();
    let block = Block::open(&block_dir).unwrap();
    let mut out = Vec::new();
    let error = block.samples_in(0, 0, i64::MAX, &mut out).unwrap_err().to_string();
    assert!(error.contains("checksum"), "{error}");
    drop(dir);
}
