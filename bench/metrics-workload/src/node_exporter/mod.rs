//! A node_exporter scrape target: the machine metrics of one host (`job="node"`, `instance="<host>:9100"`).
//!
//! The series mirror what node_exporter exposes on a Linux VM: CPU seconds per core and mode, `/proc/meminfo`
//! gauges, filesystem space, network and disk counters, load average and a few kernel counters, plus the
//! exporter's own process metrics. Values keep the precision the kernel reports (CPU time in 1/100 s ticks,
//! memory in kB, filesystem space in 4 KiB blocks) and move like a real machine's: a host-level utilisation that
//! wanders drives CPU, load and I/O together. A host occasionally reboots, which resets every counter to zero.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod machine;

use self::machine::{CpuState, DiskState, ExporterProcess, FilesystemState, InterfaceState, MemoryState, SystemState};
use crate::scrape_sink::{ScrapeSink, TargetLabels, push_scrape_series};
use crate::value_models::{fnv1a, poisson, quantize, round_decimals, standard_normal, uniform};

/// Kernel CPU accounting tick rate (`USER_HZ`): CPU times are multiples of 10 ms.
const USER_HZ: f64 = 100.0;
/// Modes of `node_cpu_seconds_total`, in node_exporter's order.
const CPU_MODES: [&str; 8] = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"];
const MODE_IDLE: usize = 0;
const MODE_IOWAIT: usize = 1;
const MODE_IRQ: usize = 2;
const MODE_NICE: usize = 3;
const MODE_SOFTIRQ: usize = 4;
const MODE_STEAL: usize = 5;
const MODE_SYSTEM: usize = 6;
const MODE_USER: usize = 7;
/// Mean time between reboots of one host; each scrape reboots the host with probability `interval / this`.
const MEAN_SECONDS_BETWEEN_REBOOTS: f64 = 3.0 * 86_400.0;
const KIB: f64 = 1024.0;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const BLOCK: f64 = 4096.0;

/// Where a target sits in the fleet; shared by the node and application targets of one host.
#[derive(Clone, Debug)]
pub struct HostIdentity {
    pub index: usize,
    pub hostname: String,
    pub cluster: String,
}

/// One host's node_exporter target and the simulated machine behind it.
pub struct NodeExporterTarget {
    labels: TargetLabels,
    rng: StdRng,
    interval_seconds: f64,
    boot_time_seconds: f64,
    first_scrape: bool,
    kernel_release: String,
    cpu: CpuState,
    memory: MemoryState,
    filesystems: Vec<FilesystemState>,
    interfaces: Vec<InterfaceState>,
    disks: Vec<DiskState>,
    system: SystemState,
    exporter: ExporterProcess,
    reboots: u64,
}

impl NodeExporterTarget {
    /// A host that booted some days before `start_seconds`; all randomness comes from `seed` and the host index.
    pub fn new(host: &HostIdentity, seed: u64, start_seconds: f64, interval_seconds: f64) -> Self {
        let host_seed = fnv1a(&[&seed.to_le_bytes(), b"node", &host.index.to_le_bytes()]);
        let mut rng = StdRng::seed_from_u64(host_seed);
        let uptime_seconds = uniform(&mut rng, 3_600.0, 60.0 * 86_400.0);
        let boot_time_seconds = (start_seconds - uptime_seconds).floor();
        let cores = [2usize, 4, 4, 8, 8, 16][rng.random_range(0..6)];
        let memory_gib = (cores as f64 * [2.0, 4.0, 8.0][rng.random_range(0..3)]).max(4.0);
        let labels = TargetLabels {
            job: "node".to_owned(),
            instance: format!("{}:9100", host.hostname),
            cluster: host.cluster.clone(),
        };
        let kernel_release = ["6.1.0-27-cloud-amd64", "6.1.0-28-cloud-amd64", "5.10.0-33-cloud-amd64"]
            [rng.random_range(0..3)]
        .to_owned();
        let mut target = Self {
            labels,
            interval_seconds,
            boot_time_seconds,
            first_scrape: true,
            kernel_release,
            cpu: CpuState::new(&mut rng, cores),
            memory: MemoryState::new(&mut rng, memory_gib * GIB),
            filesystems: FilesystemState::fleet_defaults(&mut rng),
            interfaces: InterfaceState::fleet_defaults(&mut rng),
            disks: DiskState::fleet_defaults(&mut rng),
            system: SystemState::new(&mut rng, cores),
            exporter: ExporterProcess::new(&mut rng, boot_time_seconds),
            reboots: 0,
            rng,
        };
        target.fast_forward(uptime_seconds);
        target
    }

    /// Number of reboots (counter resets) simulated so far.
    pub fn reboots(&self) -> u64 {
        self.reboots
    }

    /// Scrapes the host at `timestamp_ms`, pushing every series in a fixed order.
    pub fn scrape(&mut self, timestamp_ms: i64, sink: &mut ScrapeSink) {
        let now_seconds = timestamp_ms as f64 / 1000.0;
        let reboot_probability = self.interval_seconds / MEAN_SECONDS_BETWEEN_REBOOTS;
        if !self.first_scrape && self.rng.random_bool(reboot_probability) {
            self.reboot(now_seconds);
        }
        let first_sample = sink.len();
        self.scrape_cpu(sink);
        self.scrape_memory(sink);
        self.scrape_filesystems(sink);
        self.scrape_network(sink);
        self.scrape_disks(sink);
        self.scrape_system(now_seconds, sink);
        self.scrape_exporter_process(sink);
        let own_samples = sink.len() - first_sample;
        let scrape_duration = 0.012 + 0.004 * self.cpu.busy.value() + 0.002 * self.rng.random::<f64>();
        push_scrape_series(sink, &self.labels, own_samples, scrape_duration, self.first_scrape);
        self.first_scrape = false;
    }

    /// Brings every counter to the value it would have after `seconds` of uptime at average activity.
    fn fast_forward(&mut self, seconds: f64) {
        let busy = self.cpu.busy.value();
        for (core_ticks, weight) in self.cpu.ticks.iter_mut().zip(&self.cpu.core_weights) {
            let core_busy = (busy * weight).min(0.95);
            let total_ticks = seconds * USER_HZ;
            core_ticks[MODE_USER] = (total_ticks * core_busy * 0.72) as u64;
            core_ticks[MODE_SYSTEM] = (total_ticks * core_busy * 0.21) as u64;
            core_ticks[MODE_SOFTIRQ] = (total_ticks * core_busy * 0.04) as u64;
            core_ticks[MODE_IRQ] = (total_ticks * core_busy * 0.01) as u64;
            core_ticks[MODE_NICE] = (total_ticks * self.cpu.nice_share) as u64;
            core_ticks[MODE_IOWAIT] = (total_ticks * self.cpu.iowait_share) as u64;
            core_ticks[MODE_STEAL] = (total_ticks * self.cpu.steal_share) as u64;
            let busy_ticks: u64 = core_ticks[1..].iter().sum();
            core_ticks[MODE_IDLE] = (total_ticks as u64).saturating_sub(busy_ticks);
        }
        for interface in &mut self.interfaces {
            let receive_bytes = interface.receive_rate.value() * seconds;
            let transmit_bytes = interface.transmit_rate.value() * seconds;
            interface.counters[0] = receive_bytes as u64;
            interface.counters[3] = (receive_bytes / interface.receive_packet_size) as u64;
            interface.counters[4] = transmit_bytes as u64;
            interface.counters[7] = (transmit_bytes / interface.transmit_packet_size) as u64;
            interface.counters[1] = (seconds / 7_200.0) as u64;
        }
        for disk in &mut self.disks {
            disk.reads = (disk.read_iops.value() * seconds) as u64;
            disk.writes = (disk.write_iops.value() * seconds) as u64;
            disk.read_bytes = quantize(disk.reads as f64 * disk.read_request_bytes, 512.0) as u64;
            disk.written_bytes = quantize(disk.writes as f64 * disk.write_request_bytes, 512.0) as u64;
            disk.read_time_ms = disk.reads / 3;
            disk.write_time_ms = disk.writes / 2;
            disk.io_time_ms = (disk.read_time_ms + disk.write_time_ms) * 4 / 5;
        }
        let cores = self.cpu.ticks.len() as f64;
        self.system.context_switches = (seconds * cores * 900.0) as u64;
        self.system.interrupts = (seconds * cores * 600.0) as u64;
        self.system.forks = (seconds * 2.5) as u64;
        self.exporter.cpu_ticks = (seconds * 0.002 * USER_HZ) as u64;
        self.exporter.gc_count = (seconds / 40.0) as u64;
    }

    /// Restarts the machine: every counter starts again from (almost) zero.
    fn reboot(&mut self, now_seconds: f64) {
        self.reboots += 1;
        let seconds_since_boot = uniform(&mut self.rng, 20.0, self.interval_seconds.max(21.0));
        self.boot_time_seconds = (now_seconds - seconds_since_boot).floor();
        for core_ticks in &mut self.cpu.ticks {
            *core_ticks = [0; 8];
        }
        for interface in &mut self.interfaces {
            interface.counters = [0; 8];
        }
        for disk in &mut self.disks {
            disk.reads = 0;
            disk.writes = 0;
            disk.read_bytes = 0;
            disk.written_bytes = 0;
            disk.read_time_ms = 0;
            disk.write_time_ms = 0;
            disk.io_time_ms = 0;
        }
        self.system.context_switches = 0;
        self.system.interrupts = 0;
        self.system.forks = 0;
        self.system.load = [0.0; 3];
        self.memory.page_cache.jump_to(0.05 * self.memory.total);
        self.exporter = ExporterProcess::new(&mut self.rng, self.boot_time_seconds + 8.0);
        // The first scrape after the boot covers only part of an interval.
        self.fast_forward(seconds_since_boot);
    }

    fn scrape_cpu(&mut self, sink: &mut ScrapeSink) {
        let rng = &mut self.rng;
        let cpu = &mut self.cpu;
        let busy = cpu.busy.step(rng);
        // The kernel's tick count per interval jitters by a tick or two.
        let interval_ticks = self.interval_seconds * USER_HZ + rng.random_range(-2.0..=2.0);
        for (core_index, core_ticks) in cpu.ticks.iter_mut().enumerate() {
            let core_busy = (busy * cpu.core_weights[core_index] + 0.03 * standard_normal(rng)).clamp(0.0, 0.98);
            let mut shares = [0.0; 8];
            shares[MODE_USER] = core_busy * 0.72;
            shares[MODE_SYSTEM] = core_busy * 0.21;
            shares[MODE_SOFTIRQ] = core_busy * 0.04;
            shares[MODE_IRQ] = core_busy * 0.01;
            shares[MODE_NICE] = cpu.nice_share * uniform(rng, 0.0, 2.0);
            shares[MODE_IOWAIT] = cpu.iowait_share * uniform(rng, 0.0, 2.0) * (0.5 + busy);
            shares[MODE_STEAL] = cpu.steal_share * uniform(rng, 0.0, 2.0);
            let mut busy_ticks = 0u64;
            for mode in 1..CPU_MODES.len() {
                let increment = poisson(rng, shares[mode] * interval_ticks);
                core_ticks[mode] += increment;
                busy_ticks += increment;
            }
            core_ticks[MODE_IDLE] += (interval_ticks.round() as u64).saturating_sub(busy_ticks);
        }
        for (core_index, core_ticks) in cpu.ticks.iter().enumerate() {
            for (mode_index, mode) in CPU_MODES.iter().enumerate() {
                let seconds = core_ticks[mode_index] as f64 / USER_HZ;
                sink.push(seconds, || {
                    let core = core_index.to_string();
                    self.labels.series("node_cpu_seconds_total", &[("cpu", &core), ("mode", mode)])
                });
            }
        }
    }

    fn scrape_memory(&mut self, sink: &mut ScrapeSink) {
        let rng = &mut self.rng;
        let memory = &mut self.memory;
        let anonymous = memory.anonymous.step(rng);
        let page_cache = memory.page_cache.step(rng);
        let buffers = memory.buffers.step(rng);
        let slab = memory.slab.step(rng);
        let dirty = memory.dirty.step(rng);
        let kernel_stack = 16.0 * KIB * (300.0 + 40.0 * memory.total / GIB);
        let page_tables = anonymous * 0.004;
        let used = anonymous + page_cache + buffers + slab + kernel_stack + page_tables;
        let free = (memory.total - used).max(0.01 * memory.total);
        let reclaimable_slab = slab * 0.62;
        let available = free + page_cache * 0.92 + buffers + reclaimable_slab;
        let writeback = if rng.random_bool(0.05) { uniform(rng, 4.0, 512.0) * KIB } else { 0.0 };
        let committed = anonymous * 1.35 + memory.shared;
        let fields: [(&str, f64); 28] = [
            ("node_memory_MemTotal_bytes", memory.total),
            ("node_memory_MemFree_bytes", free),
            ("node_memory_MemAvailable_bytes", available),
            ("node_memory_Buffers_bytes", buffers),
            ("node_memory_Cached_bytes", page_cache),
            ("node_memory_SwapCached_bytes", 0.0),
            ("node_memory_Active_bytes", anonymous * 0.7 + page_cache * 0.45),
            ("node_memory_Inactive_bytes", anonymous * 0.3 + page_cache * 0.55),
            ("node_memory_Active_anon_bytes", anonymous * 0.7),
            ("node_memory_Inactive_anon_bytes", anonymous * 0.3),
            ("node_memory_Active_file_bytes", page_cache * 0.45),
            ("node_memory_Inactive_file_bytes", page_cache * 0.55),
            ("node_memory_Unevictable_bytes", 28.0 * 1024.0 * KIB),
            ("node_memory_Mlocked_bytes", 27.0 * 1024.0 * KIB),
            ("node_memory_SwapTotal_bytes", memory.swap_total),
            ("node_memory_SwapFree_bytes", memory.swap_total - memory.swap_used),
            ("node_memory_Dirty_bytes", dirty),
            ("node_memory_Writeback_bytes", writeback),
            ("node_memory_AnonPages_bytes", anonymous),
            ("node_memory_Mapped_bytes", page_cache * 0.18),
            ("node_memory_Shmem_bytes", memory.shared),
            ("node_memory_Slab_bytes", slab),
            ("node_memory_SReclaimable_bytes", reclaimable_slab),
            ("node_memory_SUnreclaim_bytes", slab - reclaimable_slab),
            ("node_memory_KernelStack_bytes", kernel_stack),
            ("node_memory_PageTables_bytes", page_tables),
            ("node_memory_CommitLimit_bytes", memory.total / 2.0 + memory.swap_total),
            ("node_memory_Committed_AS_bytes", committed),
        ];
        for (name, bytes) in fields {
            // /proc/meminfo reports kB.
            sink.push(quantize(bytes, KIB), || self.labels.series(name, &[]));
        }
    }

    fn scrape_filesystems(&mut self, sink: &mut ScrapeSink) {
        for filesystem in &mut self.filesystems {
            let written = poisson(&mut self.rng, filesystem.bytes_written_per_second * self.interval_seconds / BLOCK);
            filesystem.free -= written as f64 * BLOCK;
            // Log rotation or a cleanup job frees space now and then.
            if filesystem.bytes_written_per_second > 0.0 && self.rng.random_bool(0.002) {
                filesystem.free += quantize(filesystem.size * uniform(&mut self.rng, 0.001, 0.02), BLOCK);
            }
            filesystem.free = filesystem.free.clamp(0.02 * filesystem.size, filesystem.size);
            let file_churn = poisson(&mut self.rng, written as f64 / 64.0) as f64;
            filesystem.files_free = (filesystem.files_free - file_churn + poisson(&mut self.rng, file_churn) as f64)
                .clamp(0.0, filesystem.files);
            let available = (filesystem.free - filesystem.reserved).max(0.0);
            let values: [(&str, f64); 7] = [
                ("node_filesystem_avail_bytes", available),
                ("node_filesystem_device_error", 0.0),
                ("node_filesystem_files", filesystem.files),
                ("node_filesystem_files_free", filesystem.files_free),
                ("node_filesystem_free_bytes", filesystem.free),
                ("node_filesystem_readonly", 0.0),
                ("node_filesystem_size_bytes", filesystem.size),
            ];
            for (name, value) in values {
                sink.push(value, || {
                    self.labels.series(
                        name,
                        &[
                            ("device", filesystem.device),
                            ("fstype", filesystem.fstype),
                            ("mountpoint", filesystem.mountpoint),
                        ],
                    )
                });
            }
        }
    }

    fn scrape_network(&mut self, sink: &mut ScrapeSink) {
        const NAMES: [&str; 8] = [
            "node_network_receive_bytes_total",
            "node_network_receive_drop_total",
            "node_network_receive_errs_total",
            "node_network_receive_packets_total",
            "node_network_transmit_bytes_total",
            "node_network_transmit_drop_total",
            "node_network_transmit_errs_total",
            "node_network_transmit_packets_total",
        ];
        for interface in &mut self.interfaces {
            let rng = &mut self.rng;
            let directions = [
                (0, interface.receive_rate.step(rng), interface.receive_packet_size),
                (4, interface.transmit_rate.step(rng), interface.transmit_packet_size),
            ];
            for (first_counter, bytes_per_second, packet_size) in directions {
                let packets = poisson(rng, bytes_per_second * self.interval_seconds / packet_size);
                let bytes = (packets as f64 * packet_size * uniform(rng, 0.9, 1.1)).round() as u64;
                interface.counters[first_counter] += bytes;
                interface.counters[first_counter + 3] += packets;
                if rng.random_bool(0.01) {
                    interface.counters[first_counter + 1] += poisson(rng, 3.0);
                }
                if rng.random_bool(0.0005) {
                    interface.counters[first_counter + 2] += 1;
                }
            }
            for (name, value) in NAMES.iter().zip(interface.counters) {
                sink.push(value as f64, || self.labels.series(name, &[("device", interface.device)]));
            }
        }
    }

    fn scrape_disks(&mut self, sink: &mut ScrapeSink) {
        for disk in &mut self.disks {
            let rng = &mut self.rng;
            let read_iops = disk.read_iops.step(rng);
            let write_iops = disk.write_iops.step(rng);
            let reads = poisson(rng, read_iops * self.interval_seconds);
            let writes = poisson(rng, write_iops * self.interval_seconds);
            disk.reads += reads;
            disk.writes += writes;
            disk.read_bytes += quantize(reads as f64 * disk.read_request_bytes * uniform(rng, 0.7, 1.3), 512.0) as u64;
            disk.written_bytes +=
                quantize(writes as f64 * disk.write_request_bytes * uniform(rng, 0.7, 1.3), 512.0) as u64;
            let read_time = poisson(rng, reads as f64 * 0.35);
            let write_time = poisson(rng, writes as f64 * 0.6);
            disk.read_time_ms += read_time;
            disk.write_time_ms += write_time;
            disk.io_time_ms += ((read_time + write_time) as f64 * 0.8) as u64;
            let in_progress = poisson(rng, (reads + writes) as f64 / self.interval_seconds / 2_000.0);
            let values: [(&str, f64); 8] = [
                ("node_disk_io_now", in_progress as f64),
                ("node_disk_io_time_seconds_total", disk.io_time_ms as f64 / 1000.0),
                ("node_disk_read_bytes_total", disk.read_bytes as f64),
                ("node_disk_read_time_seconds_total", disk.read_time_ms as f64 / 1000.0),
                ("node_disk_reads_completed_total", disk.reads as f64),
                ("node_disk_write_time_seconds_total", disk.write_time_ms as f64 / 1000.0),
                ("node_disk_writes_completed_total", disk.writes as f64),
                ("node_disk_written_bytes_total", disk.written_bytes as f64),
            ];
            for (name, value) in values {
                sink.push(value, || self.labels.series(name, &[("device", disk.device)]));
            }
        }
    }

    fn scrape_system(&mut self, now_seconds: f64, sink: &mut ScrapeSink) {
        let rng = &mut self.rng;
        let system = &mut self.system;
        let cores = self.cpu.ticks.len() as f64;
        let busy = self.cpu.busy.value();
        let runnable = (busy * cores * uniform(rng, 0.8, 1.3)).max(0.0);
        // The kernel's exponentially damped averages over 1, 5 and 15 minutes.
        for (average, window_seconds) in system.load.iter_mut().zip([60.0, 300.0, 900.0]) {
            let decay = (-self.interval_seconds / window_seconds).exp();
            *average = *average * decay + runnable * (1.0 - decay);
        }
        system.context_switches += poisson(rng, cores * 900.0 * (0.3 + busy) * self.interval_seconds);
        system.interrupts += poisson(rng, cores * 600.0 * (0.4 + busy) * self.interval_seconds);
        system.forks += poisson(rng, 2.5 * self.interval_seconds);
        let procs_running = (1.0 + poisson(rng, runnable) as f64).min(cores * 4.0);
        let values: [(&str, f64); 15] = [
            ("node_boot_time_seconds", self.boot_time_seconds),
            ("node_context_switches_total", system.context_switches as f64),
            ("node_entropy_available_bits", system.entropy.step(rng).round()),
            ("node_filefd_allocated", system.file_descriptors.step(rng).round()),
            ("node_filefd_maximum", 9_223_372_036_854_775_807.0),
            ("node_forks_total", system.forks as f64),
            ("node_intr_total", system.interrupts as f64),
            ("node_load1", round_decimals(system.load[0], 2)),
            ("node_load15", round_decimals(system.load[2], 2)),
            ("node_load5", round_decimals(system.load[1], 2)),
            ("node_netstat_Tcp_CurrEstab", (system.tcp_in_use.value() * 0.8).round()),
            ("node_procs_blocked", system.procs_blocked.step(rng).round()),
            ("node_procs_running", procs_running),
            ("node_sockstat_TCP_inuse", system.tcp_in_use.step(rng).round()),
            ("node_sockstat_TCP_tw", system.tcp_time_wait.step(rng).round()),
        ];
        for (name, value) in values {
            sink.push(value, || self.labels.series(name, &[]));
        }
        let clock = round_decimals(now_seconds + uniform(rng, 0.0, 0.004), 6);
        sink.push(clock, || self.labels.series("node_time_seconds", &[]));
        sink.push(1.0, || {
            self.labels.series(
                "node_uname_info",
                &[
                    ("domainname", "(none)"),
                    ("machine", "x86_64"),
                    ("nodename", self.labels.instance.trim_end_matches(":9100")),
                    ("release", &self.kernel_release),
                    ("sysname", "Linux"),
                ],
            )
        });
    }

    fn scrape_exporter_process(&mut self, sink: &mut ScrapeSink) {
        let rng = &mut self.rng;
        let exporter = &mut self.exporter;
        exporter.cpu_ticks += poisson(rng, 0.004 * self.interval_seconds * USER_HZ);
        exporter.heap_bytes += uniform(rng, 0.8, 1.2) * 900.0 * KIB;
        if exporter.heap_bytes > 6.0 * 1024.0 * KIB {
            exporter.heap_bytes = uniform(rng, 1.8, 2.4) * 1024.0 * KIB;
            exporter.gc_count += 1;
        }
        let values: [(&str, f64); 7] = [
            ("go_gc_duration_seconds_count", exporter.gc_count as f64),
            ("go_goroutines", 8.0 + poisson(rng, 0.3) as f64),
            ("go_memstats_alloc_bytes", exporter.heap_bytes.round()),
            ("process_cpu_seconds_total", exporter.cpu_ticks as f64 / USER_HZ),
            ("process_open_fds", 9.0 + poisson(rng, 0.5) as f64),
            ("process_resident_memory_bytes", quantize(exporter.resident_bytes.step(rng), BLOCK)),
            ("process_start_time_seconds", exporter.start_time_seconds),
        ];
        for (name, value) in values {
            sink.push(value, || self.labels.series(name, &[]));
        }
        sink.push(1.0, || {
            self.labels.series(
                "node_exporter_build_info",
                &[("goversion", "go1.19.8"), ("revision", "1.5.0-1+b6"), ("version", "1.5.0")],
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostIdentity {
        HostIdentity { index: 3, hostname: "ip-10-20-0-3".into(), cluster: "prod-eu-west-1".into() }
    }

    #[test]
    fn scrapes_have_a_stable_shape_and_counters_do_not_decrease_without_reboot() {
        let mut target = NodeExporterTarget::new(&host(), 42, 1_700_000_000.0, 15.0);
        let mut sink = ScrapeSink::recording();
        target.scrape(1_700_000_000_000, &mut sink);
        let catalog = sink.take_catalog();
        let mut previous = sink.values().to_vec();
        for step in 1..400 {
            sink.clear_values();
            let reboots_before = target.reboots();
            target.scrape(1_700_000_000_000 + step * 15_000, &mut sink);
            assert_eq!(sink.len(), catalog.len());
            if target.reboots() == reboots_before {
                for ((labels, old), new) in catalog.iter().zip(&previous).zip(sink.values()) {
                    if labels[0].value.ends_with("_total") {
                        assert!(new >= old, "{labels:?}: {old} -> {new}");
                    }
                }
            }
            previous = sink.values().to_vec();
        }
    }

    #[test]
    fn same_seed_same_values() {
        let run = || {
            let mut target = NodeExporterTarget::new(&host(), 9, 1_700_000_000.0, 15.0);
            let mut sink = ScrapeSink::default();
            for step in 0..20 {
                target.scrape(1_700_000_000_000 + step * 15_000, &mut sink);
            }
            sink.values().to_vec()
        };
        assert_eq!(run(), run());
    }
}
