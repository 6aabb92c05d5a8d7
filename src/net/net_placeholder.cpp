// Placeholder so the layer library builds before its first real source lands.
namespace fhellm::net { int net_layer_placeholder = 0; }
