// Placeholder so the layer library builds before its first real source lands.
namespace fhellm::he { int he_layer_placeholder = 0; }
