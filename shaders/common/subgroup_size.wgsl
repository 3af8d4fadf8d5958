// Probe: out[0] = the subgroup size of a workgroup of WG invocations (Device.subgroup_size; kernels written for 8- or
// 4-lane subgroups pick their variant from it).
// Bindings: 0 out: array<u32> (read_write). Dispatch: 1 workgroup. Template: WG.

enable subgroups;

@group(0) @binding(0) var<storage, read_write> out: array<u32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) size: u32) {
    if (lid == 0u) {
        out[0] = size;
    }
}
