//! The simulated machine behind a node_exporter target: its CPU, memory, filesystems, network interfaces,
//! disks, kernel counters and the exporter process, with the fleet's default hardware and starting levels.
//! [`super::NodeExporterTarget`] advances these states and turns them into series.

use rand::Rng;
use rand::rngs::StdRng;

use super::{BLOCK, GIB, KIB};
use crate::value_models::{MeanRevertingWalk, quantize, round_decimals, uniform};

pub(super) struct CpuState {
    /// Per core, per mode (indexed like [`CPU_MODES`]), in `USER_HZ` ticks.
    pub(super) ticks: Vec<[u64; 8]>,
    pub(super) core_weights: Vec<f64>,
    /// Host-wide busy share (0..1) that every core follows with its own weight.
    pub(super) busy: MeanRevertingWalk,
    pub(super) iowait_share: f64,
    pub(super) steal_share: f64,
    pub(super) nice_share: f64,
}

pub(super) struct MemoryState {
    pub(super) total: f64,
    pub(super) anonymous: MeanRevertingWalk,
    pub(super) page_cache: MeanRevertingWalk,
    pub(super) buffers: MeanRevertingWalk,
    pub(super) slab: MeanRevertingWalk,
    pub(super) dirty: MeanRevertingWalk,
    pub(super) swap_total: f64,
    pub(super) swap_used: f64,
    pub(super) shared: f64,
}

pub(super) struct FilesystemState {
    pub(super) device: &'static str,
    pub(super) fstype: &'static str,
    pub(super) mountpoint: &'static str,
    pub(super) size: f64,
    pub(super) free: f64,
    pub(super) reserved: f64,
    pub(super) files: f64,
    pub(super) files_free: f64,
    pub(super) bytes_written_per_second: f64,
}

pub(super) struct InterfaceState {
    pub(super) device: &'static str,
    pub(super) receive_rate: MeanRevertingWalk,
    pub(super) transmit_rate: MeanRevertingWalk,
    pub(super) receive_packet_size: f64,
    pub(super) transmit_packet_size: f64,
    /// bytes, drop, errs, packets — receive then transmit.
    pub(super) counters: [u64; 8],
}

pub(super) struct DiskState {
    pub(super) device: &'static str,
    pub(super) read_iops: MeanRevertingWalk,
    pub(super) write_iops: MeanRevertingWalk,
    pub(super) read_request_bytes: f64,
    pub(super) write_request_bytes: f64,
    pub(super) reads: u64,
    pub(super) writes: u64,
    pub(super) read_bytes: u64,
    pub(super) written_bytes: u64,
    pub(super) read_time_ms: u64,
    pub(super) write_time_ms: u64,
    pub(super) io_time_ms: u64,
}

pub(super) struct SystemState {
    pub(super) load: [f64; 3],
    pub(super) context_switches: u64,
    pub(super) interrupts: u64,
    pub(super) forks: u64,
    pub(super) procs_blocked: MeanRevertingWalk,
    pub(super) tcp_in_use: MeanRevertingWalk,
    pub(super) tcp_time_wait: MeanRevertingWalk,
    pub(super) file_descriptors: MeanRevertingWalk,
    pub(super) entropy: MeanRevertingWalk,
}

pub(super) struct ExporterProcess {
    pub(super) cpu_ticks: u64,
    pub(super) start_time_seconds: f64,
    pub(super) resident_bytes: MeanRevertingWalk,
    pub(super) heap_bytes: f64,
    pub(super) gc_count: u64,
}

impl CpuState {
    pub(super) fn new(rng: &mut StdRng, cores: usize) -> Self {
        let average_busy = uniform(rng, 0.04, 0.55);
        let core_weights = (0..cores).map(|_| uniform(rng, 0.6, 1.4)).collect();
        Self {
            ticks: vec![[0; 8]; cores],
            core_weights,
            busy: MeanRevertingWalk::new(average_busy, 0.05, 0.02, 0.01, 0.97),
            iowait_share: uniform(rng, 0.0005, 0.01),
            steal_share: if rng.random_bool(0.5) { uniform(rng, 0.0005, 0.004) } else { 0.0 },
            nice_share: if rng.random_bool(0.3) { uniform(rng, 0.0001, 0.002) } else { 0.0 },
        }
    }
}

impl MemoryState {
    pub(super) fn new(rng: &mut StdRng, total: f64) -> Self {
        let anonymous_level = total * uniform(rng, 0.15, 0.6);
        let cache_level = total * uniform(rng, 0.1, 0.3);
        let swap_total = if rng.random_bool(0.3) { 2.0 * GIB } else { 0.0 };
        Self {
            total,
            anonymous: MeanRevertingWalk::new(anonymous_level, 0.02, 0.001 * total, 0.05 * total, 0.8 * total),
            page_cache: MeanRevertingWalk::new(cache_level, 0.01, 0.0005 * total, 0.01 * total, 0.4 * total),
            buffers: MeanRevertingWalk::new(0.01 * total, 0.05, 0.0002 * total, 0.001 * total, 0.03 * total),
            slab: MeanRevertingWalk::new(0.02 * total, 0.05, 0.0003 * total, 0.005 * total, 0.05 * total),
            dirty: MeanRevertingWalk::new(2.0 * 1024.0 * KIB, 0.5, 1024.0 * KIB, 0.0, 64.0 * 1024.0 * KIB),
            swap_total,
            swap_used: if swap_total > 0.0 { uniform(rng, 0.0, 0.1) * swap_total } else { 0.0 },
            shared: total * uniform(rng, 0.002, 0.02),
        }
    }
}

impl FilesystemState {
    pub(super) fn fleet_defaults(rng: &mut StdRng) -> Vec<Self> {
        let mut filesystem = |device, fstype, mountpoint, size: f64, used_share: f64, write_rate: f64| {
            let size = quantize(size, BLOCK);
            let free = quantize(size * (1.0 - used_share), BLOCK);
            let files = (size / 16_384.0).floor();
            Self {
                device,
                fstype,
                mountpoint,
                size,
                free,
                reserved: if fstype == "ext4" { quantize(size * 0.05, BLOCK) } else { 0.0 },
                files,
                files_free: (files * (1.0 - used_share * 0.4)).floor(),
                bytes_written_per_second: write_rate * uniform(rng, 0.5, 1.5),
            }
        };
        vec![
            filesystem("/dev/nvme0n1p1", "ext4", "/", 50.0 * GIB, 0.35, 2_000.0),
            filesystem("/dev/nvme0n1p15", "vfat", "/boot/efi", 124.0 * 1024.0 * KIB, 0.05, 0.0),
            filesystem("/dev/nvme1n1", "xfs", "/var/lib/data", 500.0 * GIB, 0.55, 60_000.0),
            filesystem("tmpfs", "tmpfs", "/run", 1.6 * GIB, 0.01, 20.0),
        ]
    }
}

impl InterfaceState {
    pub(super) fn fleet_defaults(rng: &mut StdRng) -> Vec<Self> {
        let mut interface = |device, level: f64, packet_size: f64| {
            let receive_level = level * uniform(rng, 0.3, 3.0);
            let transmit_level = receive_level * uniform(rng, 0.5, 2.0);
            Self {
                device,
                receive_rate: MeanRevertingWalk::new(
                    receive_level,
                    0.1,
                    receive_level * 0.1,
                    0.0,
                    receive_level * 10.0,
                ),
                transmit_rate: MeanRevertingWalk::new(
                    transmit_level,
                    0.1,
                    transmit_level * 0.1,
                    0.0,
                    transmit_level * 10.0,
                ),
                receive_packet_size: packet_size * uniform(rng, 0.7, 1.3),
                transmit_packet_size: packet_size * uniform(rng, 0.7, 1.3),
                counters: [0; 8],
            }
        };
        vec![
            interface("eth0", 2_000_000.0, 900.0),
            interface("lo", 300_000.0, 4_000.0),
            interface("docker0", 50_000.0, 600.0),
        ]
    }
}

impl DiskState {
    pub(super) fn fleet_defaults(rng: &mut StdRng) -> Vec<Self> {
        let mut disk = |device, iops: f64| {
            let read_level = iops * uniform(rng, 0.2, 2.0);
            let write_level = iops * uniform(rng, 0.5, 3.0);
            Self {
                device,
                read_iops: MeanRevertingWalk::new(read_level, 0.1, read_level * 0.2, 0.0, read_level * 20.0),
                write_iops: MeanRevertingWalk::new(write_level, 0.1, write_level * 0.2, 0.0, write_level * 20.0),
                read_request_bytes: quantize(uniform(rng, 8_192.0, 65_536.0), 512.0),
                write_request_bytes: quantize(uniform(rng, 4_096.0, 32_768.0), 512.0),
                reads: 0,
                writes: 0,
                read_bytes: 0,
                written_bytes: 0,
                read_time_ms: 0,
                write_time_ms: 0,
                io_time_ms: 0,
            }
        };
        vec![disk("nvme0n1", 5.0), disk("nvme1n1", 80.0)]
    }
}

impl SystemState {
    pub(super) fn new(rng: &mut StdRng, cores: usize) -> Self {
        let connections = uniform(rng, 20.0, 800.0);
        let file_descriptors = uniform(rng, 1_500.0, 12_000.0);
        Self {
            load: [0.0; 3],
            context_switches: 0,
            interrupts: 0,
            forks: 0,
            procs_blocked: MeanRevertingWalk::new(0.0, 0.5, 0.4, 0.0, cores as f64),
            tcp_in_use: MeanRevertingWalk::new(connections, 0.05, connections * 0.03, 1.0, connections * 5.0),
            tcp_time_wait: MeanRevertingWalk::new(connections * 0.4, 0.1, connections * 0.05, 0.0, connections * 5.0),
            file_descriptors: MeanRevertingWalk::new(file_descriptors, 0.05, 20.0, 500.0, 100_000.0),
            entropy: MeanRevertingWalk::new(256.0, 0.0, 0.0, 256.0, 256.0),
        }
    }
}

impl ExporterProcess {
    pub(super) fn new(rng: &mut StdRng, start_time_seconds: f64) -> Self {
        let resident = uniform(rng, 18.0, 30.0) * 1024.0 * KIB;
        Self {
            cpu_ticks: 0,
            start_time_seconds: round_decimals(start_time_seconds + uniform(rng, 5.0, 30.0), 2),
            resident_bytes: MeanRevertingWalk::new(resident, 0.1, 200.0 * KIB, resident * 0.8, resident * 1.5),
            heap_bytes: 2.0 * 1024.0 * KIB,
            gc_count: 0,
        }
    }
}
