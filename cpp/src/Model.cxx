// hepsift::Model: ONNX Runtime session wrapper.
//
// ONNX Runtime is loaded at run time with dlopen (ORT_API_MANUAL_INIT): libhepsift has no
// link-time dependency on it, so one build works with the `onnxruntime` and
// `onnxruntime-gpu` wheels and with system installations alike, and a missing runtime is
// a clear exception rather than a loader failure.
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>

#include "hepsift/Model.hxx"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <numeric>
#include <sstream>

#ifndef HEPSIFT_VERSION
#define HEPSIFT_VERSION "0.0.0"
#endif
#ifndef HEPSIFT_DEFAULT_ORT_LIBRARY
#define HEPSIFT_DEFAULT_ORT_LIBRARY ""
#endif

namespace hepsift {
namespace {

struct Runtime {
   std::mutex mutex;
   std::string requested;
   std::string path;
   std::string version;
   const OrtApi *api = nullptr;
   std::unique_ptr<Ort::Env> env;
};

Runtime &runtime()
{
   static Runtime rt;
   return rt;
}

std::string joined(const std::vector<std::string> &items, const char *sep = ", ")
{
   std::string out;
   for (std::size_t i = 0; i < items.size(); ++i)
      out += (i ? sep : "") + items[i];
   return out;
}

std::string shapeString(const std::vector<std::int64_t> &shape)
{
   std::string out = "[";
   for (std::size_t i = 0; i < shape.size(); ++i)
      out += (i ? ", " : "") + (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
   return out + "]";
}

// Loads ONNX Runtime once; returns the environment shared by all sessions.
Ort::Env &ortEnv()
{
   Runtime &rt = runtime();
   std::lock_guard<std::mutex> lock(rt.mutex);
   if (rt.env)
      return *rt.env;
   std::vector<std::string> candidates;
   if (!rt.requested.empty())
      candidates.push_back(rt.requested);
   else {
      if (const char *env = std::getenv("HEPSIFT_ONNXRUNTIME_LIB"); env && *env)
         candidates.emplace_back(env);
      if (*HEPSIFT_DEFAULT_ORT_LIBRARY)
         candidates.emplace_back(HEPSIFT_DEFAULT_ORT_LIBRARY);
      candidates.emplace_back("libonnxruntime.so.1");
      candidates.emplace_back("libonnxruntime.so");
   }
   std::string tried;
   for (const auto &candidate : candidates) {
      void *handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
         const char *why = dlerror();
         tried += "\n  " + candidate + ": " + (why ? why : "cannot be opened");
         continue;
      }
      using GetApiBase = const OrtApiBase *(*)();
      auto getBase = reinterpret_cast<GetApiBase>(dlsym(handle, "OrtGetApiBase"));
      if (!getBase) {
         tried += "\n  " + candidate + ": has no symbol OrtGetApiBase (not ONNX Runtime)";
         continue;
      }
      const OrtApiBase *base = getBase();
      const OrtApi *api = base->GetApi(ORT_API_VERSION);
      if (!api) {
         tried += "\n  " + candidate + ": ONNX Runtime " + base->GetVersionString() +
                  " is older than the API version " + std::to_string(ORT_API_VERSION) +
                  " hepsift was built with";
         continue;
      }
      Ort::InitApi(api);
      rt.api = api;
      rt.version = base->GetVersionString();
      rt.path = candidate;
      rt.env = std::make_unique<Ort::Env>(ORT_LOGGING_LEVEL_ERROR, "hepsift");
      return *rt.env;
   }
   throw ConfigurationError("hepsift: cannot load the ONNX Runtime library; tried:" + tried +
                            "\nInstall the onnxruntime Python wheel (pip install onnxruntime) or set "
                            "HEPSIFT_ONNXRUNTIME_LIB to the path of libonnxruntime.so.");
}

std::string elementTypeName(ONNXTensorElementDataType t)
{
   switch (t) {
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "float";
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return "double";
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "float16";
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return "bfloat16";
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return "int8";
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return "int16";
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return "int32";
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return "int64";
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return "uint8";
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return "bool";
   case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING: return "string";
   default: return "type " + std::to_string(static_cast<int>(t));
   }
}

// Parses a JSON array of strings, as written by hepsift's exporter (hepsift.features).
std::vector<std::string> parseStringArray(const std::string &text, const std::string &where)
{
   std::vector<std::string> out;
   std::size_t i = 0;
   auto skip = [&] {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
         ++i;
   };
   auto fail = [&]() -> std::vector<std::string> {
      throw ModelError("hepsift: metadata " + where + " is not a JSON list of strings: " + text);
   };
   skip();
   if (i >= text.size() || text[i++] != '[')
      return fail();
   skip();
   if (i < text.size() && text[i] == ']')
      return out;
   while (true) {
      skip();
      if (i >= text.size() || text[i++] != '"')
         return fail();
      std::string item;
      while (i < text.size() && text[i] != '"') {
         char c = text[i++];
         if (c == '\\') {
            if (i >= text.size())
               return fail();
            char e = text[i++];
            switch (e) {
            case 'n': item += '\n'; break;
            case 't': item += '\t'; break;
            case 'u': {
               if (i + 4 > text.size())
                  return fail();
               unsigned code = std::stoul(text.substr(i, 4), nullptr, 16);
               i += 4;
               if (code < 0x80)
                  item += static_cast<char>(code);
               else if (code < 0x800) {
                  item += static_cast<char>(0xC0 | (code >> 6));
                  item += static_cast<char>(0x80 | (code & 0x3F));
               } else {
                  item += static_cast<char>(0xE0 | (code >> 12));
                  item += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
                  item += static_cast<char>(0x80 | (code & 0x3F));
               }
               break;
            }
            default: item += e;
            }
         } else
            item += c;
      }
      if (i >= text.size())
         return fail();
      ++i; // closing quote
      out.push_back(item);
      skip();
      if (i < text.size() && text[i] == ',') {
         ++i;
         continue;
      }
      if (i < text.size() && text[i] == ']')
         return out;
      return fail();
   }
}

} // namespace

// ---------------------------------------------------------------------------------------
struct Model::Impl {
   std::string path;
   std::string provider = "cpu";
   Ort::Session session{nullptr};
   Ort::MemoryInfo memory{nullptr};
   // CUDA: page-locked ("pinned") host memory for the workspaces, so that the copies to and
   // from the GPU are direct DMA transfers; null when not on CUDA or not available.
   Ort::MemoryInfo pinned{nullptr};
   std::shared_ptr<Ort::Allocator> pinnedAllocator;
   std::vector<std::string> inputNames, outputNames, outputTypes;
   std::vector<std::vector<std::int64_t>> inputShapes, outputShapes;
   std::vector<std::string> features;
   std::map<std::string, std::string> meta;
   std::size_t nFeatures = 0;
   std::size_t scoreIndex = 0;
   std::size_t nScores = 0;
   std::vector<std::int64_t> scoreShape; // with the batch dimension at [0]
   int inputRank = 2;
   std::vector<std::int64_t> eventShape; // input 0 without its batch dimension
   std::string inputKind = "flat";
   // Set models: graph input indices of the objects [batch, P, F] and of the mask [batch, P]
   // (-1: none); whether the score has one value per object ([batch, P] or [batch, P, 1]).
   int objectsInput = 0, maskInput = -1;
   bool perObject = false;
   std::size_t chunk = 0; // events per model call (0: whole batches)

   Ort::Value inputTensor(const float *in, std::size_t n, bool inPinned = false) const
   {
      if (inputKind == "set")
         throw ConfigurationError("hepsift: model '" + path +
                                  "' takes sets of objects [batch, P, F]: score it with hepsift::DefineSetScore "
                                  "(hepsift.rdf.define in Python) or Model::evaluateSet");
      if (inputKind == "grouped-set")
         throw ConfigurationError("hepsift: model '" + path +
                                  "' takes the objects of every jet [batch, J, P, F]: score it with "
                                  "hepsift::DefineGroupedSetScore (hepsift.rdf.define in Python) or "
                                  "Model::evaluateGroupedSet");
      std::vector<std::int64_t> shape{static_cast<std::int64_t>(n)};
      if (inputRank == 2)
         shape.push_back(static_cast<std::int64_t>(nFeatures));
      else if (inputRank > 2)
         shape.insert(shape.end(), eventShape.begin(), eventShape.end());
      return Ort::Value::CreateTensor<float>(inPinned ? pinned : memory, const_cast<float *>(in), n * nFeatures,
                                             shape.data(), shape.size());
   }
   Ort::Value outputTensor(float *out, std::size_t n, bool inPinned = false) const
   {
      std::vector<std::int64_t> shape = scoreShape;
      shape[0] = static_cast<std::int64_t>(n);
      return Ort::Value::CreateTensor<float>(inPinned ? pinned : memory, out, n * nScores, shape.data(),
                                             shape.size());
   }
   void run(const Ort::Value &x, Ort::Value &y, std::size_t n) const
   {
      const char *in = inputNames[0].c_str();
      const char *out = outputNames[scoreIndex].c_str();
      try {
         const_cast<Ort::Session &>(session).Run(Ort::RunOptions{nullptr}, &in, &x, 1, &out, &y, 1);
      } catch (const Ort::Exception &e) {
         throw EvaluationError("hepsift: evaluating model '" + path + "' on " + std::to_string(n) +
                               " events failed: " + e.what());
      }
   }
   /// Runs the set model on n events of P objects (J == 0: objects [n, P, F]) or, for a grouped
   /// set, of J groups of P objects (objects [n, J, P, F], mask [n, J, P]); the score goes to
   /// `out` when given (shape scoreShape with n and, per object, P or per group J), else is
   /// returned by ONNX Runtime.
   std::vector<Ort::Value> runSet(const float *objects, const float *mask, std::size_t n, std::size_t J,
                                  std::size_t P, float *out) const
   {
      std::vector<std::int64_t> xs{static_cast<std::int64_t>(n)};
      if (J > 0)
         xs.push_back(static_cast<std::int64_t>(J));
      xs.push_back(static_cast<std::int64_t>(P));
      const std::vector<std::int64_t> ms(xs.begin(), xs.end());
      xs.push_back(static_cast<std::int64_t>(nFeatures));
      const std::size_t cells = n * std::max<std::size_t>(J, 1) * P;
      std::vector<Ort::Value> x;
      std::vector<const char *> names;
      x.push_back(Ort::Value::CreateTensor<float>(memory, const_cast<float *>(objects), cells * nFeatures, xs.data(),
                                                  xs.size()));
      names.push_back(inputNames[objectsInput].c_str());
      if (maskInput >= 0) {
         x.push_back(Ort::Value::CreateTensor<float>(memory, const_cast<float *>(mask), cells, ms.data(), ms.size()));
         names.push_back(inputNames[maskInput].c_str());
      }
      const char *outName = outputNames[scoreIndex].c_str();
      std::vector<Ort::Value> y;
      if (out) {
         std::vector<std::int64_t> shape = scoreShape;
         shape[0] = xs[0];
         if (perObject)
            shape[1] = xs[1]; // P of a set, J of a grouped set
         const std::size_t width = perObject ? static_cast<std::size_t>(xs[1]) : nScores;
         y.push_back(Ort::Value::CreateTensor<float>(memory, out, n * width, shape.data(), shape.size()));
         const_cast<Ort::Session &>(session).Run(Ort::RunOptions{nullptr}, names.data(), x.data(), x.size(),
                                                 &outName, y.data(), 1);
      } else
         y = const_cast<Ort::Session &>(session).Run(Ort::RunOptions{nullptr}, names.data(), x.data(), x.size(),
                                                     &outName, 1);
      return y;
   }
   /// Score shape of a set model from probes with 2 and 3 objects: a score per event
   /// ([batch] or [batch, K], the same for both) or per object ([batch, P] or [batch, P, 1]).
   /// A grouped set is probed with 2 jets of 2 objects and 3 jets of 3 objects and must give a
   /// score per jet ([batch, J] or [batch, J, 1]).
   void setScoreShape(const std::string &file)
   {
      const bool grouped = inputKind == "grouped-set";
      std::vector<std::vector<std::int64_t>> shapes;
      for (std::size_t k : {2, 3}) {
         const std::size_t J = grouped ? k : 0, P = k;
         const std::size_t cells = std::max<std::size_t>(J, 1) * P;
         std::vector<float> objects(cells * nFeatures, 0.f), mask(cells, 1.f);
         try {
            shapes.push_back(runSet(objects.data(), mask.data(), 1, J, P, nullptr).at(0).GetTensorTypeAndShapeInfo()
                                .GetShape());
         } catch (const Ort::Exception &e) {
            throw ModelError("hepsift: set model '" + file + "' fails on one event of " +
                             (grouped ? std::to_string(J) + " jets of " : std::string()) + std::to_string(P) +
                             " zero objects: " + e.what());
         }
      }
      const auto &a = shapes[0], &b = shapes[1];
      auto trailingOnes = [](const std::vector<std::int64_t> &v) {
         return std::all_of(v.begin() + 2, v.end(), [](std::int64_t d) { return d == 1; });
      };
      if (a == b && !a.empty() && !grouped) {
         scoreShape = a;
         nScores = std::accumulate(a.begin() + 1, a.end(), std::size_t{1},
                                   [](std::size_t k, std::int64_t d) { return k * static_cast<std::size_t>(d); });
      } else if (a.size() >= 2 && a.size() == b.size() && a[1] == 2 && b[1] == 3 && trailingOnes(a) &&
                 trailingOnes(b)) {
         perObject = true;
         scoreShape = a;
         nScores = 1;
      } else if (grouped)
         throw ModelError("hepsift: output '" + outputNames[scoreIndex] + "' of grouped set model '" + file +
                          "' has shape " + shapeString(a) + " for 2 jets and " + shapeString(b) +
                          " for 3; hepsift needs one score per jet ([batch, J] or [batch, J, 1])");
      else
         throw ModelError("hepsift: output '" + outputNames[scoreIndex] + "' of set model '" + file +
                          "' has shape " + shapeString(a) + " for 2 objects and " + shapeString(b) +
                          " for 3; hepsift needs a score per event ([batch] or [batch, K]) or per object "
                          "([batch, P] or [batch, P, 1])");
      if (nScores == 0)
         throw ModelError("hepsift: output '" + outputNames[scoreIndex] + "' of model '" + file + "' is empty");
   }
   /// Evaluates n events from `in` into `out` in calls of at most `chunk` events.
   void runChunked(const float *in, float *out, std::size_t n, bool inPinned) const
   {
      const std::size_t step = chunk == 0 ? n : chunk;
      for (std::size_t first = 0; first < n; first += step) {
         const std::size_t k = std::min(step, n - first);
         Ort::Value x = inputTensor(in + first * nFeatures, k, inPinned);
         Ort::Value y = outputTensor(out + first * nScores, k, inPinned);
         run(x, y, k);
      }
   }
};

struct Workspace::Impl {
   std::vector<float> inVector, outVector; // host memory, or
   std::shared_ptr<float> inPinned, outPinned; // pinned host memory (CUDA)
   float *in = nullptr, *out = nullptr;
   std::size_t nIn = 0, nOut = 0, capacity = 0;
   bool pinned = false;
   Ort::Value x{nullptr}, y{nullptr};
};

Workspace::Workspace(std::unique_ptr<Impl> impl) : fImpl(std::move(impl)) {}
Workspace::Workspace(Workspace &&) noexcept = default;
Workspace &Workspace::operator=(Workspace &&) noexcept = default;
Workspace::~Workspace() = default;
float *Workspace::input() { return fImpl->in; }
const float *Workspace::output() const { return fImpl->out; }
std::size_t Workspace::capacity() const { return fImpl->capacity; }

Model::Model(const std::string &path, const ModelOptions &options)
{
   struct stat st;
   if (::stat(path.c_str(), &st) != 0)
      throw ModelError("hepsift: model file '" + path + "' does not exist");
   if (!S_ISREG(st.st_mode))
      throw ModelError("hepsift: model path '" + path + "' is not a regular file");
   if (options.provider != "cpu" && options.provider != "cuda")
      throw ProviderError("hepsift: unknown execution provider '" + options.provider +
                          "' for model '" + path + "'; use \"cpu\" or \"cuda\"");

   // ONNX Runtime must be loaded before Impl exists: the destructors of its (even empty)
   // handles call into ONNX Runtime's API table.
   Ort::Env &env = ortEnv();
   fImpl = std::make_unique<Impl>();
   Impl &m = *fImpl;
   m.path = path;
   m.memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);

   auto makeOptions = [&](bool cuda) {
      Ort::SessionOptions so;
      so.SetIntraOpNumThreads(std::max(0, options.threads));
      so.SetInterOpNumThreads(1);
      so.SetExecutionMode(ORT_SEQUENTIAL);
      so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
      if (options.threads == 1)
         so.AddConfigEntry("session.intra_op.allow_spinning", "0");
      if (cuda) {
         OrtCUDAProviderOptions cudaOptions;
         cudaOptions.device_id = options.deviceId;
         so.AppendExecutionProvider_CUDA(cudaOptions);
      }
      return so;
   };
   auto load = [&](const Ort::SessionOptions &so) {
      try {
         m.session = Ort::Session(env, path.c_str(), so);
      } catch (const Ort::Exception &e) {
         throw ModelError("hepsift: cannot load '" + path + "' as an ONNX model: " + e.what());
      }
   };

   if (options.provider == "cuda") {
      std::string why;
      try {
         load(makeOptions(true));
         m.provider = "cuda";
      } catch (const Ort::Exception &e) {
         why = e.what();
      } catch (const ModelError &e) {
         why = e.what();
      }
      if (m.provider != "cuda") {
         if (!options.allowFallback)
            throw ProviderError("hepsift: execution provider 'cuda' was requested for model '" + path +
                                "' but cannot be used: " + why +
                                "\nOn a machine with an NVIDIA GPU install onnxruntime-gpu in place of "
                                "onnxruntime; otherwise use provider 'cpu' or allow the fallback to CPU.");
         load(makeOptions(false));
         m.provider = "cpu";
      }
   } else
      load(makeOptions(false));
   m.chunk = m.provider == "cuda" ? 0 : options.cpuChunk;
   if (m.provider == "cuda") {
      try {
         m.pinned = Ort::MemoryInfo("CudaPinned", OrtDeviceAllocator, options.deviceId, OrtMemTypeCPUOutput);
         m.pinnedAllocator = std::make_shared<Ort::Allocator>(m.session, m.pinned);
      } catch (const Ort::Exception &) { // workspaces then use ordinary host memory
         m.pinned = Ort::MemoryInfo{nullptr};
         m.pinnedAllocator.reset();
      }
   }

   Ort::AllocatorWithDefaultOptions alloc;
   // Inputs.
   for (std::size_t i = 0; i < m.session.GetInputCount(); ++i) {
      m.inputNames.emplace_back(m.session.GetInputNameAllocated(i, alloc).get());
      auto info = m.session.GetInputTypeInfo(i);
      if (info.GetONNXType() != ONNX_TYPE_TENSOR)
         throw ModelError("hepsift: input '" + m.inputNames.back() + "' of model '" + path +
                          "' is not a tensor");
      auto tensor = info.GetTensorTypeAndShapeInfo();
      m.inputShapes.push_back(tensor.GetShape());
      if (tensor.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
         throw ModelError("hepsift: input '" + m.inputNames.back() + "' of model '" + path + "' has element type " +
                          elementTypeName(tensor.GetElementType()) +
                          "; hepsift feeds float32 features: export the model with a float input");
   }
   const auto maskAt = std::find(m.inputNames.begin(), m.inputNames.end(), "mask");
   const bool setWithMask = m.inputNames.size() == 2 && maskAt != m.inputNames.end();
   if (m.inputNames.size() != 1 && !setWithMask)
      throw ModelError("hepsift: model '" + path + "' has " + std::to_string(m.inputNames.size()) + " inputs (" +
                       joined(m.inputNames) +
                       "); hepsift needs one float input tensor ([batch, nFeatures], an image [batch, C, H, W] "
                       "or a set [batch, P, F]), plus an input named 'mask' [batch, P] for a set");
   if (setWithMask) {
      m.maskInput = static_cast<int>(maskAt - m.inputNames.begin());
      m.objectsInput = 1 - m.maskInput;
   }

   // Metadata.
   {
      Ort::ModelMetadata md = m.session.GetModelMetadata();
      auto keys = md.GetCustomMetadataMapKeysAllocated(alloc);
      for (auto &key : keys) {
         auto value = md.LookupCustomMetadataMapAllocated(key.get(), alloc);
         m.meta[key.get()] = value ? value.get() : "";
      }
      auto it = m.meta.find("hepsift.features");
      if (it != m.meta.end())
         m.features = parseStringArray(it->second, "hepsift.features of '" + path + "'");
   }

   const auto &ishape = m.inputShapes[m.objectsInput];
   m.inputRank = static_cast<int>(ishape.size());
   const bool isSet = ishape.size() == 3 && ishape[1] <= 0 && (ishape[2] > 0 || !m.features.empty());
   // A grouped set: the objects of every jet (group) of the event, [batch, J, P, F] with J and P dynamic.
   const bool isGrouped =
      ishape.size() == 4 && ishape[1] <= 0 && ishape[2] <= 0 && (ishape[3] > 0 || !m.features.empty());
   if (m.maskInput >= 0 && !isSet && !isGrouped)
      throw ModelError("hepsift: model '" + path + "' has an input 'mask' but its input '" +
                       m.inputNames[m.objectsInput] + "' has shape " + shapeString(ishape) +
                       "; a set model takes objects [batch, P, F] with a dynamic P, a grouped set model the objects "
                       "of every jet [batch, J, P, F] with dynamic J and P");
   if (isGrouped && m.maskInput < 0)
      throw ModelError("hepsift: model '" + path + "' takes the objects of every jet, " + shapeString(ishape) +
                       ", but has no input 'mask' [batch, J, P]; the jets of one event have different numbers of "
                       "objects, so hepsift pads them and needs the mask (export the model with a 'mask' input)");
   if (m.maskInput >= 0) {
      const auto &mshape = m.inputShapes[m.maskInput];
      const std::size_t rank = isGrouped ? 3 : 2;
      if (mshape.size() != rank || std::any_of(mshape.begin() + 1, mshape.end(), [](std::int64_t d) { return d > 0; }))
         throw ModelError("hepsift: input 'mask' of model '" + path + "' has shape " + shapeString(mshape) +
                          (isGrouped ? "; a grouped set model's mask is [batch, J, P] with the J and P of its objects"
                                     : "; a set model's mask is [batch, P] with the P of its objects"));
   }
   const bool staticEvent =
      ishape.size() >= 2 && std::all_of(ishape.begin() + 1, ishape.end(), [](std::int64_t d) { return d > 0; });
   if (isSet || isGrouped) {
      // A set [batch, P, F]: P objects per event (P dynamic: each event's own number), F
      // features per object, one ROOT::RVec column per feature. A grouped set [batch, J, P, F]:
      // the same objects grouped by the jet they belong to (J jets of the event, P the largest
      // number of objects of one of its jets), with a mask [batch, J, P].
      m.inputKind = isSet ? "set" : "grouped-set";
      const std::int64_t F = ishape.back();
      m.nFeatures = F > 0 ? static_cast<std::size_t>(F) : m.features.size();
      m.eventShape = {-1, static_cast<std::int64_t>(m.nFeatures)};
      if (isGrouped)
         m.eventShape.insert(m.eventShape.begin(), -1);
   } else if (ishape.size() == 1)
      m.nFeatures = 1;
   else if (ishape.size() == 2 && ishape[1] > 0)
      m.nFeatures = static_cast<std::size_t>(ishape[1]);
   else if (ishape.size() == 2 && !m.features.empty())
      m.nFeatures = m.features.size();
   else if (ishape.size() == 4 && staticEvent) {
      // An image [batch, C, H, W] (or [batch, H, W, C]): C*H*W values per event, in the
      // order the file declares (row-major), i.e. one ROOT::RVec<float> column per event.
      m.inputKind = "image";
      m.eventShape.assign(ishape.begin() + 1, ishape.end());
      m.nFeatures = static_cast<std::size_t>(ishape[1] * ishape[2] * ishape[3]);
   } else
      throw ModelError("hepsift: input '" + m.inputNames[0] + "' of model '" + path + "' has shape " +
                       shapeString(ishape) +
                       "; hepsift needs [batch, nFeatures] with a fixed number of features, an image "
                       "[batch, C, H, W] with fixed C, H and W, or a set [batch, P, F] with a dynamic P");
   if (m.inputKind == "image")
      m.features.clear(); // hepsift.features of an image model names its channels, not its values
   if (!m.features.empty() && m.features.size() != m.nFeatures)
      throw ModelError("hepsift: model '" + path + "' lists " + std::to_string(m.features.size()) +
                       " feature names in its metadata but its input has " + std::to_string(m.nFeatures) +
                       " features");

   // Outputs.
   for (std::size_t i = 0; i < m.session.GetOutputCount(); ++i) {
      m.outputNames.emplace_back(m.session.GetOutputNameAllocated(i, alloc).get());
      auto info = m.session.GetOutputTypeInfo(i);
      if (info.GetONNXType() == ONNX_TYPE_TENSOR) {
         auto tensor = info.GetTensorTypeAndShapeInfo();
         m.outputTypes.push_back(elementTypeName(tensor.GetElementType()));
         m.outputShapes.push_back(tensor.GetShape());
      } else {
         m.outputTypes.push_back(info.GetONNXType() == ONNX_TYPE_SEQUENCE ? "sequence"
                                 : info.GetONNXType() == ONNX_TYPE_MAP  ? "map"
                                                                        : "non-tensor");
         m.outputShapes.emplace_back();
      }
   }
   std::string wanted = options.output.empty() ? m.meta["hepsift.score_output"] : options.output;
   if (m.meta["hepsift.score_output"].empty())
      m.meta.erase("hepsift.score_output");
   if (!wanted.empty()) {
      auto it = std::find(m.outputNames.begin(), m.outputNames.end(), wanted);
      if (it == m.outputNames.end())
         throw ModelError("hepsift: model '" + path + "' has no output '" + wanted + "'; its outputs are " +
                          joined(m.outputNames));
      m.scoreIndex = static_cast<std::size_t>(it - m.outputNames.begin());
      if (m.outputTypes[m.scoreIndex] != "float")
         throw ModelError("hepsift: output '" + wanted + "' of model '" + path + "' has type " +
                          m.outputTypes[m.scoreIndex] + "; the score must be a float tensor");
   } else {
      auto it = std::find(m.outputTypes.begin(), m.outputTypes.end(), "float");
      if (it == m.outputTypes.end())
         throw ModelError("hepsift: model '" + path + "' has no float tensor output (outputs: " +
                          joined(m.outputNames) + " of types " + joined(m.outputTypes) +
                          "); export the score as a float tensor (skl2onnx: options zipmap=False)");
      m.scoreIndex = static_cast<std::size_t>(it - m.outputTypes.begin());
   }

   if (m.inputKind == "set" || m.inputKind == "grouped-set") {
      m.setScoreShape(path);
      return;
   }
   // Width of the score; a probe on one event settles dynamic dimensions.
   const auto &oshape = m.outputShapes[m.scoreIndex];
   bool known = !oshape.empty() && std::all_of(oshape.begin() + 1, oshape.end(), [](std::int64_t d) { return d > 0; });
   if (known) {
      m.scoreShape = oshape;
   } else {
      std::vector<float> zeros(m.nFeatures, 0.f);
      const char *in = m.inputNames[0].c_str();
      const char *out = m.outputNames[m.scoreIndex].c_str();
      Ort::Value x = m.inputTensor(zeros.data(), 1);
      std::vector<Ort::Value> y;
      try {
         y = m.session.Run(Ort::RunOptions{nullptr}, &in, &x, 1, &out, 1);
      } catch (const Ort::Exception &e) {
         throw ModelError("hepsift: model '" + path + "' fails on one event of zeros: " + e.what());
      }
      m.scoreShape = y.at(0).GetTensorTypeAndShapeInfo().GetShape();
      if (m.scoreShape.empty())
         throw ModelError("hepsift: output '" + m.outputNames[m.scoreIndex] + "' of model '" + path +
                          "' is a scalar; it needs a batch dimension");
   }
   m.nScores = std::accumulate(m.scoreShape.begin() + 1, m.scoreShape.end(), std::size_t{1},
                               [](std::size_t a, std::int64_t d) { return a * static_cast<std::size_t>(d); });
   if (m.nScores == 0)
      throw ModelError("hepsift: output '" + m.outputNames[m.scoreIndex] + "' of model '" + path + "' is empty");
}

Model::Model(Model &&) noexcept = default;
Model &Model::operator=(Model &&) noexcept = default;
Model::~Model() = default;

const std::string &Model::path() const { return fImpl->path; }
const std::string &Model::provider() const { return fImpl->provider; }
const std::vector<std::string> &Model::inputNames() const { return fImpl->inputNames; }
const std::vector<std::vector<std::int64_t>> &Model::inputShapes() const { return fImpl->inputShapes; }
const std::vector<std::string> &Model::outputNames() const { return fImpl->outputNames; }
const std::vector<std::vector<std::int64_t>> &Model::outputShapes() const { return fImpl->outputShapes; }
const std::vector<std::string> &Model::outputTypes() const { return fImpl->outputTypes; }
std::size_t Model::nFeatures() const { return fImpl->nFeatures; }
bool Model::masked() const { return fImpl->maskInput >= 0; }
bool Model::perObject() const { return fImpl->perObject; }

void Model::evaluateSet(const float *objects, const float *mask, std::size_t nEvents, std::size_t nObjects,
                        float *out) const
{
   const Impl &m = *fImpl;
   if (m.inputKind != "set")
      throw ConfigurationError("hepsift: Model::evaluateSet on model '" + m.path + "', which takes " + m.inputKind +
                               " inputs; use " +
                               (m.inputKind == "grouped-set" ? "Model::evaluateGroupedSet" : "Model::evaluate"));
   if (nEvents == 0)
      return;
   if (!objects || !out || (m.maskInput >= 0 && !mask))
      throw EvaluationError("hepsift: Model::evaluateSet on '" + m.path + "' got a null buffer");
   if (nObjects == 0)
      throw EvaluationError("hepsift: Model::evaluateSet on '" + m.path +
                            "' got 0 objects per event; pad to at least one object (with mask 0)");
   try {
      m.runSet(objects, mask, nEvents, 0, nObjects, out);
   } catch (const Ort::Exception &e) {
      throw EvaluationError("hepsift: evaluating set model '" + m.path + "' on " + std::to_string(nEvents) +
                            " events of " + std::to_string(nObjects) + " objects failed: " + e.what());
   }
}

void Model::evaluateGroupedSet(const float *objects, const float *mask, std::size_t nEvents, std::size_t nJets,
                               std::size_t nObjects, float *out) const
{
   const Impl &m = *fImpl;
   if (m.inputKind != "grouped-set")
      throw ConfigurationError("hepsift: Model::evaluateGroupedSet on model '" + m.path + "', which takes " +
                               m.inputKind + " inputs; use " +
                               (m.inputKind == "set" ? "Model::evaluateSet" : "Model::evaluate"));
   if (nEvents == 0)
      return;
   if (!objects || !mask || !out)
      throw EvaluationError("hepsift: Model::evaluateGroupedSet on '" + m.path + "' got a null buffer");
   if (nJets == 0 || nObjects == 0)
      throw EvaluationError("hepsift: Model::evaluateGroupedSet on '" + m.path + "' got " + std::to_string(nJets) +
                            " jets of " + std::to_string(nObjects) +
                            " objects per event; pad to at least one jet of one object (with mask 0)");
   try {
      m.runSet(objects, mask, nEvents, nJets, nObjects, out);
   } catch (const Ort::Exception &e) {
      throw EvaluationError("hepsift: evaluating grouped set model '" + m.path + "' on " + std::to_string(nEvents) +
                            " events of " + std::to_string(nJets) + " jets of " + std::to_string(nObjects) +
                            " objects failed: " + e.what());
   }
}
const std::string &Model::inputKind() const { return fImpl->inputKind; }
const std::vector<std::int64_t> &Model::eventShape() const { return fImpl->eventShape; }
std::size_t Model::scoreIndex() const { return fImpl->scoreIndex; }
std::size_t Model::nScores() const { return fImpl->nScores; }
std::size_t Model::chunk() const { return fImpl->chunk; }
const std::vector<std::string> &Model::featureNames() const { return fImpl->features; }
const std::map<std::string, std::string> &Model::metadataMap() const { return fImpl->meta; }
std::string Model::metadata(const std::string &key) const
{
   auto it = fImpl->meta.find(key);
   return it == fImpl->meta.end() ? std::string() : it->second;
}
std::string Model::kind() const { return metadata("hepsift.kind"); }
std::string Model::hepsiftVersion() const { return metadata("hepsift.version"); }

void Model::evaluate(const float *in, std::size_t nEvents, float *out) const
{
   if (nEvents == 0)
      return;
   if (!in || !out)
      throw EvaluationError("hepsift: Model::evaluate on '" + fImpl->path + "' got a null buffer");
   fImpl->runChunked(in, out, nEvents, false);
}

std::vector<float> Model::evaluate(const std::vector<float> &in) const
{
   if (in.size() % fImpl->nFeatures != 0)
      throw InputMismatchError("hepsift: model '" + fImpl->path + "' takes " + std::to_string(fImpl->nFeatures) +
                               " features per event but was given " + std::to_string(in.size()) +
                               " values, not a multiple of it");
   std::size_t n = in.size() / fImpl->nFeatures;
   std::vector<float> out(n * fImpl->nScores);
   evaluate(in.data(), n, out.data());
   return out;
}

Workspace Model::makeWorkspace(std::size_t capacity) const
{
   if (capacity == 0)
      throw ConfigurationError("hepsift: a workspace for model '" + fImpl->path + "' needs a capacity above 0");
   auto ws = std::make_unique<Workspace::Impl>();
   ws->capacity = capacity;
   ws->nIn = capacity * fImpl->nFeatures;
   ws->nOut = capacity * fImpl->nScores;
   if (auto allocator = fImpl->pinnedAllocator) {
      try {
         auto grab = [&allocator](std::size_t n) {
            auto *p = static_cast<float *>(allocator->Alloc(n * sizeof(float)));
            std::fill(p, p + n, 0.f);
            return std::shared_ptr<float>(p, [allocator](float *q) { allocator->Free(q); });
         };
         ws->inPinned = grab(ws->nIn);
         ws->outPinned = grab(ws->nOut);
         ws->in = ws->inPinned.get();
         ws->out = ws->outPinned.get();
         ws->pinned = true;
      } catch (const Ort::Exception &) {
         ws->inPinned.reset();
         ws->outPinned.reset();
      }
   }
   if (!ws->pinned) {
      ws->inVector.assign(ws->nIn, 0.f);
      ws->outVector.assign(ws->nOut, 0.f);
      ws->in = ws->inVector.data();
      ws->out = ws->outVector.data();
   }
   ws->x = fImpl->inputTensor(ws->in, capacity, ws->pinned);
   ws->y = fImpl->outputTensor(ws->out, capacity, ws->pinned);
   return Workspace(std::move(ws));
}

void Model::run(Workspace &ws, std::size_t nEvents) const
{
   Workspace::Impl &w = *ws.fImpl;
   if (nEvents > w.capacity)
      throw EvaluationError("hepsift: " + std::to_string(nEvents) + " events exceed the workspace capacity " +
                            std::to_string(w.capacity) + " for model '" + fImpl->path + "'");
   if (w.nIn != w.capacity * fImpl->nFeatures || w.nOut != w.capacity * fImpl->nScores)
      throw EvaluationError("hepsift: workspace was made for another model than '" + fImpl->path + "'");
   if (nEvents == 0)
      return;
   if (nEvents == w.capacity && (fImpl->chunk == 0 || nEvents <= fImpl->chunk))
      fImpl->run(w.x, w.y, nEvents); // the tensors bound to the workspace
   else
      fImpl->runChunked(w.in, w.out, nEvents, w.pinned);
}

void setOnnxRuntimeLibrary(const std::string &path)
{
   Runtime &rt = runtime();
   std::lock_guard<std::mutex> lock(rt.mutex);
   if (rt.env && path != rt.path)
      throw ConfigurationError("hepsift: ONNX Runtime is already loaded from '" + rt.path +
                               "'; cannot switch to '" + path + "' in the same process");
   rt.requested = path;
}

std::string onnxRuntimeLibrary()
{
   ortEnv();
   return runtime().path;
}

std::string onnxRuntimeVersion()
{
   ortEnv();
   return runtime().version;
}

std::vector<std::string> availableProviders()
{
   ortEnv();
   return Ort::GetAvailableProviders();
}

std::string version() { return HEPSIFT_VERSION; }

} // namespace hepsift
