// Links the installed hepsift through find_package(hepsift) and uses it.
#include <hepsift/Model.hxx>

#include <iostream>
#include <string>

int main()
{
   try {
      hepsift::Model model("does-not-exist.onnx");
   } catch (const hepsift::ModelError &e) {
      if (std::string(e.what()).find("does not exist") == std::string::npos)
         return 2;
      std::cout << "hepsift " << hepsift::version() << " with ONNX Runtime " << hepsift::onnxRuntimeVersion() << "\n";
      return hepsift::version().empty() ? 3 : 0;
   }
   return 1;
}
