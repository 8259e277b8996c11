// Makes hepsift's library and headers known to ROOT sessions started in this folder (as in
// `root -l -b -q 'macros/score_tree.C(...)'`): asks the `hepsift` command where they are,
// loads the library and tells the macros so (HEPSIFT_LIBRARY_LOADED).
{
   TString lib = gSystem->GetFromPipe("hepsift config --libdir 2>/dev/null");
   TString inc = gSystem->GetFromPipe("hepsift config --includedir 2>/dev/null");
   if (lib.Length() && inc.Length() && gSystem->Load(lib + "/libhepsift.so") >= 0) {
      gInterpreter->AddIncludePath(inc);
      if (!gSystem->Getenv("HEPSIFT_ONNXRUNTIME_LIB"))
         gSystem->Setenv("HEPSIFT_ONNXRUNTIME_LIB", gSystem->GetFromPipe("hepsift config --onnxruntime-lib 2>/dev/null"));
      gInterpreter->Declare("#define HEPSIFT_LIBRARY_LOADED 1");
   }
}
