/* A stand-in for NVIDIA's libnvidia-ml.so.1, built only for the device tests: the entry points
 * the GPU probe uses, answering for fake GPUs. The environment shapes the answers:
 *   FAKE_NVML_GPUS        number of GPUs (default 2: an A100 80GB and an RTX 4090)
 *   FAKE_NVML_CUDA        CUDA version the "driver" supports, NVML encoding (default 12040)
 *   FAKE_NVML_INIT_ERROR  nvmlInit_v2 returns this code (9 = driver not loaded)
 *   FAKE_NVML_SMALL_GPU1  GPU 1 reports 4 GiB instead of 24 GiB */
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct fake_device {
  int index;
} *nvmlDevice_t;
typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;

static struct fake_device devices[16];

static int env_int(const char* key, int fallback) {
  const char* v = getenv(key);
  return v != NULL && v[0] != '\0' ? atoi(v) : fallback;
}

static int count(void) {
  int n = env_int("FAKE_NVML_GPUS", 2);
  return n < 0 ? 0 : n > 16 ? 16 : n;
}

static void copy(char* dst, unsigned size, const char* src) {
  if (size == 0) return;
  strncpy(dst, src, size - 1);
  dst[size - 1] = '\0';
}

nvmlReturn_t nvmlInit_v2(void) { return env_int("FAKE_NVML_INIT_ERROR", 0); }
nvmlReturn_t nvmlShutdown(void) { return 0; }
const char* nvmlErrorString(nvmlReturn_t r) { return r == 9 ? "Driver Not Loaded" : "Unknown Error"; }

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned* n) {
  *n = (unsigned)count();
  return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t* d) {
  if ((int)i >= count()) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  devices[i].index = (int)i;
  *d = &devices[i];
  return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char* name, unsigned size) {
  copy(name, size, d->index == 0 ? "NVIDIA A100-SXM4-80GB"
                   : d->index == 1 ? "NVIDIA GeForce RTX 4090"
                                   : "Tesla T4");
  return 0;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char* uuid, unsigned size) {
  static const char* uuids[] = {"GPU-11111111-aaaa-4000-8000-000000000000",
                                "GPU-22222222-bbbb-4000-8000-000000000001"};
  copy(uuid, size, d->index < 2 ? uuids[d->index] : "GPU-33333333-cccc-4000-8000-000000000002");
  return 0;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t* m) {
  const unsigned long long gib = 1ull << 30;
  if (d->index == 0) {
    m->total = 80 * gib;
  } else if (d->index == 1) {
    m->total = (env_int("FAKE_NVML_SMALL_GPU1", 0) ? 4 : 24) * gib;
  } else {
    m->total = 16 * gib;
  }
  m->used = gib;
  m->free = m->total - m->used;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int* major, int* minor) {
  *major = d->index == 0 ? 8 : d->index == 1 ? 8 : 7;
  *minor = d->index == 0 ? 0 : d->index == 1 ? 9 : 5;
  return 0;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char* v, unsigned size) {
  copy(v, size, "550.54.15");
  return 0;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* v) {
  *v = env_int("FAKE_NVML_CUDA", 12040);
  return 0;
}
