/*
 * A stand-in libnvidia-ml.so.1 for the test host (tests/host/testhost.py builds it).
 *
 * The test host has no GPU, yet `mode request compute` must verify that the display GPU
 * was released. This library implements the few NVML entry points Dubnium's adapter
 * (backends/nvml.py, through nvidia-ml-py) calls, with the ABI nvidia-ml-py expects, and
 * models two GPUs from the processes it finds in /proc (or $FAKE_NVML_PROC):
 *   - a process whose comm is "Hyprland" is a graphics process on GPU 0 (512 MiB);
 *   - a process whose comm is "vllm" is a compute process (2048 MiB) on every GPU whose
 *     UUID is in its CUDA_VISIBLE_DEVICES (all GPUs when unset or empty);
 *   - used memory is the sum; nothing lingers after a process exits.
 * It is loaded only by processes started with LD_LIBRARY_PATH pointing at it.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NGPU 2
#define MIB (1024ULL * 1024ULL)
#define MAXPROC 64

typedef struct { unsigned int pid; unsigned long long usedGpuMemory;
                 unsigned int gpuInstanceId; unsigned int computeInstanceId; } proc_info;
typedef struct { unsigned long long total, free, used; } memory_info;
typedef struct { unsigned int gpu, memory; } utilization;

static int initialised = 0;
static int handles[NGPU] = {0, 1};

static const char *uuid_of(int i) {
    return i == 0 ? "GPU-d0b00000-0000-4000-8000-000000000000"
                  : "GPU-d0b00000-0000-4000-8000-000000000001";
}

static const char *proc_root(void) {
    const char *root = getenv("FAKE_NVML_PROC");
    return root && *root ? root : "/proc";
}

static int read_file(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = 0;
    return (int)n;
}

/* Does the vllm process `pid` see GPU `gpu` (by CUDA_VISIBLE_DEVICES)? */
static int sees_gpu(const char *pid, int gpu) {
    char path[512], env[65536];
    snprintf(path, sizeof path, "%s/%s/environ", proc_root(), pid);
    int n = read_file(path, env, sizeof env);
    if (n < 0) return 1;
    for (int i = 0; i < n; i += (int)strlen(env + i) + 1) {
        if (strncmp(env + i, "CUDA_VISIBLE_DEVICES=", 21) == 0) {
            const char *value = env + i + 21;
            if (!*value) return 1;
            return strstr(value, uuid_of(gpu)) != NULL;
        }
    }
    return 1;
}

/* Processes of `kind` (0 graphics, 1 compute) on `gpu`. */
static unsigned int scan(int gpu, int kind, proc_info *out, unsigned int max) {
    DIR *d = opendir(proc_root());
    unsigned int count = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        char path[512], comm[64];
        snprintf(path, sizeof path, "%s/%s/comm", proc_root(), e->d_name);
        if (read_file(path, comm, sizeof comm) < 0) continue;
        comm[strcspn(comm, "\n")] = 0;
        unsigned long long used = 0;
        if (kind == 0 && gpu == 0 && strcmp(comm, "Hyprland") == 0) used = 512 * MIB;
        if (kind == 1 && strcmp(comm, "vllm") == 0 && sees_gpu(e->d_name, gpu)) used = 2048 * MIB;
        if (!used) continue;
        if (out && count < max) {
            out[count].pid = (unsigned int)atoi(e->d_name);
            out[count].usedGpuMemory = used;
            out[count].gpuInstanceId = 0xFFFFFFFF;
            out[count].computeInstanceId = 0xFFFFFFFF;
        }
        count++;
    }
    closedir(d);
    return count;
}

static int gpu_of(void *handle) { return *(int *)handle; }

int nvmlInitWithFlags(unsigned int flags) { (void)flags; initialised = 1; return 0; }
int nvmlInit_v2(void) { initialised = 1; return 0; }
int nvmlShutdown(void) { if (!initialised) return 1; initialised = 0; return 0; }

const char *nvmlErrorString(int result) {
    switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 7: return "Insufficient Size";
    default: return "Unknown Error";
    }
}

static int copy(char *dst, unsigned int len, const char *src) {
    if (strlen(src) + 1 > len) return 7;
    strcpy(dst, src);
    return 0;
}

int nvmlSystemGetDriverVersion(char *v, unsigned int len) {
    return initialised ? copy(v, len, "0.0-dubnium-stand-in") : 1;
}
int nvmlSystemGetNVMLVersion(char *v, unsigned int len) {
    return initialised ? copy(v, len, "0.0-dubnium-stand-in") : 1;
}
int nvmlDeviceGetCount_v2(unsigned int *count) {
    if (!initialised) return 1;
    *count = NGPU;
    return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **handle) {
    if (!initialised) return 1;
    if (index >= NGPU) return 2;
    *handle = &handles[index];
    return 0;
}
int nvmlDeviceGetUUID(void *h, char *v, unsigned int len) { return copy(v, len, uuid_of(gpu_of(h))); }
int nvmlDeviceGetName(void *h, char *v, unsigned int len) {
    (void)h;
    return copy(v, len, "Dubnium stand-in GPU");
}
int nvmlSystemGetProcessName(unsigned int pid, char *v, unsigned int len) {
    char path[512], comm[64];
    snprintf(path, sizeof path, "%s/%u/comm", proc_root(), pid);
    if (read_file(path, comm, sizeof comm) < 0) return 6; /* NOT_FOUND */
    comm[strcspn(comm, "\n")] = 0;
    return copy(v, len, comm);
}

static unsigned long long used_on(int gpu) {
    proc_info procs[MAXPROC];
    unsigned long long used = 0;
    for (int kind = 0; kind < 2; kind++) {
        unsigned int n = scan(gpu, kind, procs, MAXPROC);
        for (unsigned int i = 0; i < n && i < MAXPROC; i++) used += procs[i].usedGpuMemory;
    }
    return used;
}

int nvmlDeviceGetMemoryInfo(void *h, memory_info *m) {
    if (!initialised) return 1;
    m->total = 24576 * MIB;
    m->used = used_on(gpu_of(h));
    m->free = m->total - m->used;
    return 0;
}
int nvmlDeviceGetUtilizationRates(void *h, utilization *u) {
    if (!initialised) return 1;
    u->gpu = scan(gpu_of(h), 1, NULL, 0) ? 50 : 0;
    u->memory = 0;
    return 0;
}

static int running(void *h, int kind, unsigned int *count, proc_info *infos) {
    if (!initialised) return 1;
    unsigned int n = scan(gpu_of(h), kind, NULL, 0);
    if (infos == NULL || *count < n) {
        unsigned int want = n;
        *count = want;
        return want == 0 ? 0 : 7; /* SUCCESS when none, else INSUFFICIENT_SIZE */
    }
    *count = scan(gpu_of(h), kind, infos, *count);
    return 0;
}
int nvmlDeviceGetGraphicsRunningProcesses_v3(void *h, unsigned int *c, proc_info *p) { return running(h, 0, c, p); }
int nvmlDeviceGetComputeRunningProcesses_v3(void *h, unsigned int *c, proc_info *p) { return running(h, 1, c, p); }
